import { MediaPlaneError } from '../media-error.js';
import type { BencodeDictionary } from './bencode.js';

export type NgErrorCode =
  | 'NG_BAD_FRAMING'
  | 'NG_NOT_A_DICTIONARY'
  | 'NG_TIMEOUT'
  | 'NG_ERROR_REPLY'
  | 'NG_BAD_REPLY'
  | 'NG_SEND_FAILED'
  | 'NG_CLIENT_CLOSED';

/** Base of the ng protocol's errors; `code` is stable, the message is for people. */
export class NgError extends MediaPlaneError<NgErrorCode> {
  override readonly name: string = 'NgError';
}

/** A datagram that is not `<cookie> <bencoded dictionary>` (the bencode itself fails with BencodeError). */
export class NgMessageError extends NgError {
  override readonly name = 'NgMessageError';
  constructor(code: 'NG_BAD_FRAMING' | 'NG_NOT_A_DICTIONARY', message: string) {
    super(code, message);
  }
}

/** No reply to a command after every retransmission. */
export class NgTimeoutError extends NgError {
  override readonly name = 'NgTimeoutError';
  constructor(
    readonly command: string,
    readonly cookie: string,
    readonly attempts: number,
  ) {
    super('NG_TIMEOUT', `no reply to ng command "${command}" after ${attempts} attempt(s)`);
  }
}

/**
 * The peer answered `result: error` (reason in `error-reason`) or `result: load limit` (reason in `message`).
 */
export class NgErrorReply extends NgError {
  override readonly name = 'NgErrorReply';
  constructor(
    readonly command: string,
    readonly result: string,
    readonly reason: string,
    readonly reply: BencodeDictionary,
  ) {
    super('NG_ERROR_REPLY', `ng command "${command}" failed (${result}): ${reason}`);
  }
}

/** A reply that carries our cookie but cannot be understood, or a result the command does not allow. */
export class NgBadReplyError extends NgError {
  override readonly name = 'NgBadReplyError';
  constructor(
    readonly command: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('NG_BAD_REPLY', message, options);
  }
}

export class NgSendError extends NgError {
  override readonly name = 'NgSendError';
  constructor(
    readonly command: string,
    cause: unknown,
  ) {
    super('NG_SEND_FAILED', `could not send ng command "${command}"`, { cause });
  }
}

export class NgClientClosedError extends NgError {
  override readonly name = 'NgClientClosedError';
  constructor(readonly command: string) {
    super('NG_CLIENT_CLOSED', `ng client closed before "${command}" was answered`);
  }
}
