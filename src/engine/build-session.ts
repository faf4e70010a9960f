// One `POST /build`: the context received and the Dockerfile planned first (so that a bad
// context or Dockerfile is an ordinary HTTP error), then the build run with its output streamed;
// the context directory and any mounts go when it ends, whichever way it ends.
import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { Builder, prepareBuild, type BuildOptions } from '../build/builder.js';
import { receiveContext } from '../build/context.js';
import type { BuildOutput } from '../build/steps.js';
import type { ImageService } from './images/image-service.js';
import type { EngineBuildBackend } from './build-backend.js';

export interface BuildSession {
  /** Runs the build; resolves with the image id. */
  run(out: BuildOutput, signal: AbortSignal): Promise<string>;
  /** Removes the context (call once, after run or instead of it). */
  close(): Promise<void>;
}

export async function openBuildSession(backend: EngineBuildBackend, images: ImageService, input: Readable, dockerfile: string, opts: BuildOptions, signal: AbortSignal): Promise<BuildSession> {
  const dir = await backend.contextDir();
  const close = (): Promise<void> => fsp.rm(dir, { recursive: true, force: true });
  try {
    const ctx = await receiveContext(input, dir, dockerfile, signal);
    const prep = prepareBuild(ctx, opts);
    return {
      run: async (out, runSignal) => {
        const builder = new Builder(backend, ctx, opts, prep, out, runSignal);
        try {
          // Layers a build commits are not "unused" before their image exists.
          return await images.creating(() => builder.run());
        } finally {
          await builder.close();
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
