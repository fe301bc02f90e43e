import { type RegisterHooksOptions, registerHooks } from 'node:module'

const DRIZZLE = '/node_modules/drizzle-orm/'

/**
 * Node's ES module loader looks up the nearest package.json for every module it loads, to tell
 * the module's format, and deserialises it whole each time. drizzle-orm's is 179 KB (an exports
 * map of 447 subpaths) and `serve` loads ~400 of its modules: the garbage left idle RSS ~19 MB
 * bigger for good (bench/README.md). drizzle-orm is `"type": "module"`, so a relative `.js`
 * import between its files is an ES module: resolved here, without the lookup. Everything else
 * is resolved by Node as before (test/module-hooks.test.ts checks both give the same answers).
 */
export const resolveDrizzleImports: NonNullable<RegisterHooksOptions['resolve']> = (
  specifier,
  context,
  nextResolve,
) => {
  const parent = context.parentURL
  if (
    parent?.includes(DRIZZLE) &&
    (specifier.startsWith('./') || specifier.startsWith('../')) &&
    specifier.endsWith('.js')
  ) {
    return { url: new URL(specifier, parent).href, format: 'module', shortCircuit: true }
  }
  return nextResolve(specifier, context)
}

/** Call before the first import of drizzle-orm: `bin/feedgen.js` does, then imports the CLI. */
export function registerModuleHooks(): void {
  registerHooks({ resolve: resolveDrizzleImports })
}
