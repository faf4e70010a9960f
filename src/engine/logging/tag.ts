// Docker's log tag templates ({{.ID}}, {{.Name}}, …) and the container facts they read.

export interface LogContainer {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Record<string, string>;
  env: string[];
}

/** A driver's `tag` option with Docker's fields filled in; `dflt` when none is given. */
export function renderTag(template: string | undefined, c: LogContainer, dflt = '{{.ID}}'): string {
  const fields: Record<string, string> = {
    ID: c.id.slice(0, 12),
    FullID: c.id,
    Name: c.name,
    ImageName: c.image,
    ImageID: c.imageId.replace(/^sha256:/, '').slice(0, 12),
    ImageFullID: c.imageId,
    DaemonName: 'docker',
  };
  return (template || dflt).replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, k: string) => fields[k] ?? m);
}

/** The `labels`, `labels-regex`, `env`, `env-regex` options: extra attributes sent with each line. */
export function extraAttributes(cfg: Record<string, string>, c: LogContainer): Record<string, string> {
  const out: Record<string, string> = {};
  const names = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const labelRe = cfg['labels-regex'] ? new RegExp(cfg['labels-regex']) : undefined;
  for (const [k, v] of Object.entries(c.labels)) if (names(cfg['labels']).includes(k) || labelRe?.test(k)) out[k] = v;
  const envRe = cfg['env-regex'] ? new RegExp(cfg['env-regex']) : undefined;
  for (const e of c.env) {
    const i = e.indexOf('=');
    if (i < 0) continue;
    const k = e.slice(0, i);
    if (names(cfg['env']).includes(k) || envRe?.test(k)) out[k] = e.slice(i + 1);
  }
  return out;
}
