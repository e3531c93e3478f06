/**
 * A value object while it is being built, before anyone else sees it: its optional fields are
 * set on the fresh object rather than spread in (a spread of a conditional literal takes V8's
 * slow path, and these objects are built at every barrier, checkpoint event and snapshot).
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
