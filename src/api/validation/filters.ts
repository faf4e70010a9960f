// The filter keys each route accepts, as dockerd's routers list them: any other key is a 400
// naming it, before the handler runs. One table, so a route added later only needs its line.
export const FILTER_KEYS: Record<string, readonly string[]> = {
  'GET /containers/json': ['ancestor', 'before', 'expose', 'exited', 'health', 'id', 'isolation', 'is-task', 'label', 'name', 'network', 'publish', 'since', 'status', 'volume'],
  'POST /containers/prune': ['until', 'label', 'label!'],
  'GET /images/json': ['dangling', 'label', 'label!', 'before', 'since', 'reference', 'until'],
  'POST /images/prune': ['dangling', 'label', 'label!', 'until'],
  'GET /images/search': ['is-automated', 'is-official', 'stars'],
  'GET /events': ['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume'],
  'GET /networks': ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'],
  'POST /networks/prune': ['until', 'label', 'label!'],
  'GET /volumes': ['dangling', 'driver', 'label', 'name'],
  'POST /volumes/prune': ['label', 'label!', 'all'],
  'POST /build/prune': ['until', 'unused-for', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private'],
};
