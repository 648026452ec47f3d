/**
 * Command-line options through `node:util`'s `parseArgs`, with defaults that also give each
 * option its type: a number default makes a number option (checked), a boolean a flag, a
 * string a string. Unknown options are an error that lists the known ones (unless told otherwise).
 */
import { parseArgs } from 'node:util';

/**
 * @template {Record<string, { default: number | string | boolean, help?: string }>} S
 * @param {S} spec option name → default (and a help line)
 * @param {readonly string[]} [argv] default: `process.argv.slice(2)` without a lone `--`
 * @param {{ strict?: boolean }} [how] `strict: false` ignores options not in `spec` (for a
 *   program handed options meant for its siblings); default true
 * @returns {{ [K in keyof S]: S[K]['default'] extends number ? number : S[K]['default'] extends boolean ? boolean : string }}
 */
export function options(spec, argv = process.argv.slice(2).filter((a) => a !== '--'), { strict = true } = {}) {
  const known = Object.fromEntries(
    Object.entries(spec).map(([name, { default: value }]) => [name, { type: typeof value === 'boolean' ? 'boolean' : 'string' }]),
  );
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: known, strict, allowPositionals: !strict }));
  } catch (error) {
    throw new Error(`${error.message}\n${usage(spec)}`);
  }
  const out = {};
  for (const [name, { default: value }] of Object.entries(spec)) {
    const given = values[name];
    out[name] = given === undefined ? value : typeof value === 'number' ? Number(given) : given;
    if (typeof value === 'number' && !Number.isFinite(out[name])) throw new Error(`--${name} must be a number (got ${given})`);
  }
  return out;
}

/** One line per option: `--name <default>  help`. */
export function usage(spec) {
  return Object.entries(spec)
    .map(([name, { default: value, help }]) => `  --${name}${typeof value === 'boolean' ? '' : ` ${value}`}${help ? `  ${help}` : ''}`)
    .join('\n');
}
