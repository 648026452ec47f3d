/*
 * Jest on Node 20 runs tests as CommonJS, so the harness's ES modules (tools/harness/*.mjs)
 * are compiled to CommonJS here with TypeScript's transpiler. TypeScript keeps a `.mjs` file
 * an ES module whatever the options say, so it is compiled under a `.js` name; and
 * `import.meta.url`, which has no CommonJS form, becomes the file's own URL.
 */
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const ts = require('typescript');

const IMPORT_META_URL = /\bimport\.meta\.url\b/g;
const FILE_URL = "require('node:url').pathToFileURL(__filename).href";
const SELF = readFileSync(__filename);

module.exports = {
  getCacheKey(source, path) {
    return createHash('sha256').update(SELF).update(ts.version).update(path).update(source).digest('hex');
  },
  process(source, path) {
    const { outputText, sourceMapText } = ts.transpileModule(source.replace(IMPORT_META_URL, FILE_URL), {
      fileName: path.replace(/\.mjs$/, '.js'),
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        allowJs: true,
        sourceMap: true,
      },
    });
    return { code: outputText, map: sourceMapText };
  },
};
