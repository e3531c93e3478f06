/**
 * `streamcheck/vitest`: the vitest integration (placeholder until it lands: issue 8). The
 * build compiles and ships whatever this barrel exports.
 */
export {};
