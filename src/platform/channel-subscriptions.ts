import { subscribe, unsubscribe } from 'node:diagnostics_channel';

/** A handler for the messages of one diagnostics channel. */
export type ChannelHandler = (message: unknown) => void;

/**
 * Subscribes each handler to its diagnostics channel (by name) and returns the function that unsubscribes them
 * all: the collectors, logs and tracing of the platform listen to the planes' channels this one way.
 */
export function subscribeChannels(handlers: Readonly<Record<string, ChannelHandler>>): () => void {
  const entries = Object.entries(handlers);
  for (const [name, handler] of entries) subscribe(name, handler);
  return () => {
    for (const [name, handler] of entries) unsubscribe(name, handler);
  };
}
