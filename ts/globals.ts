/**
 * Global declarations the published .d.ts needs in every TypeScript setup (tests/types.test.ts): `Symbol.dispose`
 * (models are `Disposable`) is in TypeScript's esnext.disposable library and in @types/node, but not in a DOM-only
 * project with `lib: ["es2022", "dom"]`. Declared exactly as @types/node does, so the declarations merge.
 */
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

export {};
