/**
 * Loading the packages only end-to-end runs need (kafkajs, ioredis, testcontainers,
 * @testcontainers/redis). They are optional peer dependencies of the streamcheck package: a
 * user who only runs the simulation never installs them, so nothing imports them at the top
 * of a module; each is imported at its point of use, and a missing one is an error that
 * names the package to install (the CLI reports it as bad input, exit 2).
 */

/** Every message of MissingOptionalDependencyError starts with this (the CLI's isBadInput matches it). */
export const MISSING_OPTIONAL_DEPENDENCY_PREFIX = 'missing optional dependency';

export class MissingOptionalDependencyError extends Error {
  constructor(
    readonly packageName: string,
    purpose: string,
    cause: unknown,
  ) {
    super(`${MISSING_OPTIONAL_DEPENDENCY_PREFIX} '${packageName}': ${purpose} needs it; install it next to streamcheck (npm install --save-dev ${packageName})`, { cause });
    this.name = 'MissingOptionalDependencyError';
  }
}

const loaded = new Map<string, Promise<unknown>>();

/**
 * `import(packageName)`, once per package. Only "this package cannot be found" becomes a
 * MissingOptionalDependencyError; a package that is installed but fails while loading keeps
 * its own error (that is not fixed by installing it).
 */
export function importOptionalDependency<Module>(packageName: string, purpose: string): Promise<Module> {
  let module = loaded.get(packageName);
  if (module === undefined) {
    module = import(packageName).catch((error: unknown) => {
      loaded.delete(packageName);
      throw isNotFound(error, packageName) ? new MissingOptionalDependencyError(packageName, purpose, error) : error;
    });
    loaded.set(packageName, module);
  }
  return module as Promise<Module>;
}

function isNotFound(error: unknown, packageName: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  // Node: ERR_MODULE_NOT_FOUND "Cannot find package 'x' imported from ..."; vitest's module
  // runner and tsx phrase it as "Cannot find module 'x'" / "Failed to load url x".
  const namesPackage = error.message.includes(`'${packageName}'`) || error.message.includes(`"${packageName}"`) || error.message.includes(` ${packageName} `);
  return namesPackage && (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)|Failed to load url/.test(error.message));
}
