/**
 * An error of the media plane with a stable `code` that clients and tests match on; the message is for people.
 * The ng protocol's errors (`NgError`) and the relay's refusals (`MediaRelayError`) are its kinds.
 */
export class MediaPlaneError<C extends string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
