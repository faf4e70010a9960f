// berth version: client and server versions (GET /version).

import type { VersionResponse } from '../../types/api.js';
import { MAX_API_VERSION } from '../../client/client.js';
import { command, describe, parse, StatusError, type Ctx } from '../cli.js';
import { goJSON, parseTemplate, prepare } from '../format/formatter.js';
import { FUNCS } from '../format/template.js';

const TEMPLATE = `{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Node version:\t{{.NodeVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`;

interface Opts {
  format?: string;
}

export async function version(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Show the Berth version information', args: { max: 0 } });
  c.option('-f, --format <string>', 'Format output using a custom template');
  const { opts } = parse<Opts>(ctx, c, argv);

  const client = ctx.client();
  let server: (VersionResponse & Record<string, unknown>) | null = null;
  let serverErr: unknown;
  let apiVersion = MAX_API_VERSION;
  try {
    // The answer's Api-Version header settles the version: no /_ping first.
    server = await client.get<VersionResponse & Record<string, unknown>>('/version');
    apiVersion = await client.apiVersion();
  } catch (e) {
    serverErr = e;
  }
  if (server) {
    for (const comp of server.Components ?? []) {
      if (comp.Name === 'Engine' && comp.Details?.BuildTime) comp.Details.BuildTime = ansic(comp.Details.BuildTime);
    }
  }
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const data = {
    Client: {
      Platform: { Name: '' },
      Version: '0.1.0',
      APIVersion: apiVersion,
      DefaultAPIVersion: MAX_API_VERSION,
      NodeVersion: process.version,
      GitCommit: 'unknown',
      BuildTime: 'unknown',
      Os: process.platform,
      Arch: arch,
      Context: 'default',
    },
    Server: server ? withGoFieldNames({ ...server, Platform: server.Platform ?? { Name: '' }, Components: server.Components ?? [] }) : null,
  };
  let src = TEMPLATE;
  if (opts.format) src = opts.format === 'json' ? '{{json .}}' : prepare(opts.format);
  const funcs = {
    ...FUNCS,
    getDetailsOrder: (comp: unknown) => Object.keys((comp as { Details?: object }).Details ?? {}).sort(),
  };
  let text: string;
  try {
    text = parseTemplate(src).execute(data, funcs);
  } catch (e) {
    throw new StatusError(64, `template: ${(e as Error).message}`);
  }
  if (!opts.format) {
    const { tabulate } = await import('../format/tabwriter.js');
    text = tabulate(text + "\n", 20, 1);
  } else text += '\n';
  process.stdout.write(text);
  if (serverErr) throw new StatusError(1, describe(serverErr));
  void goJSON;
  return 0;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.ANSIC layout ("Mon Jan _2 15:04:05 2006"), in the time's own zone (UTC here). */
export function ansic(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * Templates name fields as Go does (`.Server.APIVersion`) while the JSON says `ApiVersion`:
 * the Go names are added as non-enumerable aliases so `{{json .Server}}` stays Docker's JSON.
 */
function withGoFieldNames<T extends { ApiVersion?: string; MinAPIVersion?: string }>(server: T): T {
  Object.defineProperty(server, 'APIVersion', { value: server.ApiVersion, enumerable: false });
  return server;
}
