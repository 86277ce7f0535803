// The answer of cel-fast.ts (and its value rules) where it cannot be sure of cel-js's own: cel-js then decides.
export const UNSURE: unique symbol = Symbol('unsure');
export type Unsure = typeof UNSURE;
