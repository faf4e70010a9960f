// GET /distribution/{name}/json: what a reference resolves to on its registry (the manifest's
// descriptor) and the platforms it offers, without pulling anything.
import type { DistributionInspect } from '../../types/api.js';
import type { AuthConfig } from '../../distribution/auth.js';
import { parseManifest } from '../../distribution/manifest.js';
import { Repository } from '../../distribution/repository.js';
import type { Platform } from '../../oci/image-spec.js';
import type { Reference } from '../../reference/index.js';
import type { ImageConfig } from './image-types.js';
import { translatePullError } from './pull.js';
import type { RegistryService } from './registry-service.js';

export async function distributionInspect(registries: RegistryService, ref: Reference, auth: AuthConfig): Promise<DistributionInspect> {
  const repo = new Repository(registries.registry(ref.domain, auth), ref.path, ['pull']);
  try {
    const fetched = await repo.getManifest(ref.digest ?? ref.tag ?? 'latest');
    const parsed = parseManifest(fetched.bytes, fetched.contentType, ref.toString());
    const descriptor = { mediaType: parsed.mediaType, digest: fetched.digest, size: fetched.bytes.length };
    let platforms: Platform[];
    if (parsed.kind === 'index') {
      platforms = parsed.index.manifests.filter((m) => m.platform).map((m) => m.platform!);
    } else {
      const c = parsed.manifest.config;
      const config = JSON.parse((await repo.getBlobBytes(c.digest, c.size, 8 * 1024 * 1024)).toString('utf8')) as ImageConfig;
      const p: Platform = { architecture: config.architecture ?? '', os: config.os ?? '' };
      if (config.variant) p.variant = config.variant;
      if (config['os.version']) p['os.version'] = config['os.version'];
      platforms = [p];
    }
    return { Descriptor: descriptor, Platforms: platforms };
  } catch (err) {
    throw translatePullError(err, ref);
  }
}
