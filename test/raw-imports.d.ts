/** Vite's `?raw` imports: a file's text, for tests that run a migration's SQL themselves. */
declare module "*.sql?raw" {
  const text: string;
  export default text;
}
