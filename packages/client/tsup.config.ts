import { defineConfig } from 'tsup';
import base from '../../tsup.base';

/**
 * The shared build, aimed at browsers as well as Node 20: ES2022 output, nothing Node-specific,
 * so the ESM file runs unbundled in a page.
 */
export default defineConfig({ ...base, target: 'es2022', platform: 'neutral' });
