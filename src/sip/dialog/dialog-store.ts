import type { SipMessage } from '../message/sip-message.js';
import { dialogKey, type Dialog, type DialogId } from './dialog.js';

/**
 * The dialogs of a UA core, with the §12.2.2 match: "the UAS … MUST match the request to a dialog using the
 * Call-ID and the tags: the To tag is the local tag, the From tag the remote tag". Responses to our own requests
 * match with the tags the other way round. Several early dialogs of one forked INVITE differ by remote tag.
 */
export class DialogStore {
  private readonly dialogs = new Map<string, Dialog>();

  add(dialog: Dialog): void {
    this.dialogs.set(dialogKey(dialog.id), dialog);
  }

  get(id: DialogId): Dialog | undefined {
    return this.dialogs.get(dialogKey(id));
  }

  /** The dialog an incoming request belongs to. */
  matchRequest(message: SipMessage): Dialog | undefined {
    if (!message.toTag) return undefined;
    return this.get({ callId: message.callId, localTag: message.toTag, remoteTag: message.fromTag ?? '' });
  }

  /** The dialog a response to one of our requests belongs to. */
  matchResponse(message: SipMessage): Dialog | undefined {
    if (!message.toTag) return undefined;
    return this.get({ callId: message.callId, localTag: message.fromTag ?? '', remoteTag: message.toTag });
  }

  remove(id: DialogId): boolean {
    return this.dialogs.delete(dialogKey(id));
  }

  /** Early dialogs of one Call-ID other than `keep` (the forks to end once one 2xx wins, §13.2.2.4). */
  otherEarly(callId: string, keep: DialogId): Dialog[] {
    return [...this.dialogs.values()].filter(
      (d) => d.id.callId === callId && d.state === 'early' && dialogKey(d.id) !== dialogKey(keep),
    );
  }

  get size(): number {
    return this.dialogs.size;
  }
}
