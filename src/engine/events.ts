// The daemon's event log: every state change, kept in a bounded ring for --since and streamed to subscribers.
import { EventEmitter } from 'node:events';
import type { EventMessage } from '../types/api.js';

// As many as dockerd keeps for `--since` (moby daemon/events: eventsLimit).
const KEEP = 256;

export class EventService {
  private readonly ring: EventMessage[] = [];
  private readonly bus = new EventEmitter();

  constructor() {
    this.bus.setMaxListeners(0);
  }

  emit(type: EventMessage['Type'], action: string, id: string, attributes: Record<string, string> = {}): EventMessage {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const ev: EventMessage = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.ring.push(ev);
    if (this.ring.length > KEEP) this.ring.shift();
    this.bus.emit('event', ev);
    return ev;
  }

  /** Past events in [sinceNs, untilNs). */
  history(sinceNs: number, untilNs: number): EventMessage[] {
    return this.ring.filter((e) => e.timeNano >= sinceNs && e.timeNano < untilNs);
  }

  subscribe(listener: (ev: EventMessage) => void): () => void {
    this.bus.on('event', listener);
    return () => this.bus.off('event', listener);
  }
}
