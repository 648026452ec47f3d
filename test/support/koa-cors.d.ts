/** `@koa/cors` ships no type declarations; the suite only calls its default export. */
declare module '@koa/cors' {
  import type { Middleware } from 'koa';

  export default function cors(options?: Record<string, unknown>): Middleware;
}
