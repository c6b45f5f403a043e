// Two small things every primitive needs and none should write again.

/**
 * The `default:` of an exhaustive `switch` over a lifecycle's tags: TypeScript proves it is never
 * reached, and if a new tag is added without a case, it does not compile.
 */
export function unreachable(value: never): never {
  const tag = (value as { tag?: unknown } | null)?.tag;
  throw new Error(`unreachable state ${JSON.stringify(tag ?? value)}`);
}

/** Consumes a rejection (or an event) on purpose: the failure is reported elsewhere, or is none. */
export function ignore(): void {}
