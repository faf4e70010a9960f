// Per-container notifications (an exit with its code, a removal) and the waits built on them:
// `docker wait`'s conditions and stop's wait for the exit it caused.
import { EventEmitter } from 'node:events';
import type { ContainerWaitResponse } from '../../types/api.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export class ExitSignals {
  private readonly bus = new EventEmitter();

  constructor() {
    this.bus.setMaxListeners(0);
  }

  exited(id: string, code: number): void {
    this.bus.emit(`exit:${id}`, code);
  }

  removed(id: string): void {
    this.bus.emit(`removed:${id}`);
  }

  /** The next exit's code, or undefined once `timeoutMs` passed first. */
  waitForExit(id: string, timeoutMs?: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onExit = (code: number): void => {
        if (timer) clearTimeout(timer);
        resolve(code);
      };
      this.bus.once(`exit:${id}`, onExit);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.bus.off(`exit:${id}`, onExit);
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }

  /** `next-exit` / `not-running` (of a running container): its next exit; `removed`: its removal, with the last exit's code. */
  wait(id: string, condition: WaitCondition, lastCode: number, signal?: AbortSignal): Promise<ContainerWaitResponse> {
    return new Promise((resolve, reject) => {
      let code = lastCode;
      const cleanup = (): void => {
        this.bus.off(`exit:${id}`, onExit);
        this.bus.off(`removed:${id}`, onRemoved);
      };
      const onExit = (exitCode: number): void => {
        code = exitCode;
        if (condition === 'removed') return;
        cleanup();
        resolve({ StatusCode: exitCode, Error: null });
      };
      const onRemoved = (): void => {
        cleanup();
        resolve({ StatusCode: code, Error: null });
      };
      this.bus.on(`exit:${id}`, onExit);
      if (condition === 'removed') this.bus.on(`removed:${id}`, onRemoved);
      signal?.addEventListener('abort', () => {
        cleanup();
        reject(new Error('wait cancelled'));
      });
    });
  }
}
