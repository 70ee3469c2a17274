// Offline structure check of the SBC's envoy.yaml (deploy/kubernetes/base/core/envoy.yaml): every field it uses,
// by message, as Envoy's v3 API defines it (api/envoy/... protos of Envoy 1.37, the release the manifests pin),
// and every typed_config's type URL. Only the fields and messages the configuration uses are listed: a field
// not listed, a misspelt one or a value of the wrong kind fails. This is not Envoy's own validation (which
// needs the envoy binary, `envoy --mode validate`, not available here): it checks names and shapes only.

type Spec =
  | 'string'
  | 'uint32'
  | 'bool'
  | 'duration'
  | 'empty'
  | { readonly enum: readonly string[] }
  | { readonly message: string }
  | { readonly list: Spec }
  | 'typed';

const msg = (message: string) => ({ message });
const list = (item: Spec) => ({ list: item });

/** Fields of each message used, name → kind. */
const MESSAGES: Record<string, Record<string, Spec>> = {
  'config.bootstrap.v3.Bootstrap': {
    admin: msg('config.bootstrap.v3.Admin'),
    static_resources: msg('config.bootstrap.v3.Bootstrap.StaticResources'),
  },
  'config.bootstrap.v3.Admin': { address: msg('config.core.v3.Address') },
  'config.bootstrap.v3.Bootstrap.StaticResources': {
    listeners: list(msg('config.listener.v3.Listener')),
    clusters: list(msg('config.cluster.v3.Cluster')),
  },
  'config.core.v3.Address': { socket_address: msg('config.core.v3.SocketAddress') },
  'config.core.v3.SocketAddress': {
    protocol: { enum: ['TCP', 'UDP'] },
    address: 'string',
    port_value: 'uint32',
  },
  'config.listener.v3.Listener': {
    name: 'string',
    address: msg('config.core.v3.Address'),
    listener_filters: list(msg('config.listener.v3.ListenerFilter')),
    filter_chains: list(msg('config.listener.v3.FilterChain')),
  },
  'config.listener.v3.ListenerFilter': { name: 'string', typed_config: 'typed' },
  'config.listener.v3.FilterChain': { filters: list(msg('config.listener.v3.Filter')) },
  'config.listener.v3.Filter': { name: 'string', typed_config: 'typed' },
  'extensions.filters.udp.udp_proxy.v3.UdpProxyConfig': {
    stat_prefix: 'string',
    idle_timeout: 'duration',
    hash_policies: list(msg('extensions.filters.udp.udp_proxy.v3.UdpProxyConfig.HashPolicy')),
    matcher: msg('xds.type.matcher.v3.Matcher'),
  },
  'extensions.filters.udp.udp_proxy.v3.UdpProxyConfig.HashPolicy': { source_ip: 'bool', key: 'string' },
  'xds.type.matcher.v3.Matcher': { on_no_match: msg('xds.type.matcher.v3.Matcher.OnMatch') },
  'xds.type.matcher.v3.Matcher.OnMatch': { action: msg('xds.core.v3.TypedExtensionConfig') },
  'xds.core.v3.TypedExtensionConfig': { name: 'string', typed_config: 'typed' },
  'extensions.filters.udp.udp_proxy.v3.Route': { cluster: 'string' },
  'extensions.filters.network.tcp_proxy.v3.TcpProxy': {
    stat_prefix: 'string',
    cluster: 'string',
    idle_timeout: 'duration',
    hash_policy: list(msg('type.v3.HashPolicy')),
  },
  'type.v3.HashPolicy': { source_ip: 'empty' },
  'extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': {
    stat_prefix: 'string',
    route_config: msg('config.route.v3.RouteConfiguration'),
    http_filters: list(msg('extensions.filters.network.http_connection_manager.v3.HttpFilter')),
  },
  'extensions.filters.network.http_connection_manager.v3.HttpFilter': {
    name: 'string',
    typed_config: 'typed',
  },
  'extensions.filters.http.router.v3.Router': {},
  'config.route.v3.RouteConfiguration': {
    name: 'string',
    virtual_hosts: list(msg('config.route.v3.VirtualHost')),
  },
  'config.route.v3.VirtualHost': {
    name: 'string',
    domains: list('string'),
    routes: list(msg('config.route.v3.Route')),
  },
  'config.route.v3.Route': {
    match: msg('config.route.v3.RouteMatch'),
    route: msg('config.route.v3.RouteAction'),
  },
  'config.route.v3.RouteMatch': { path: 'string', prefix: 'string' },
  'config.route.v3.RouteAction': { cluster: 'string', prefix_rewrite: 'string' },
  'config.cluster.v3.Cluster': {
    name: 'string',
    type: { enum: ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'] },
    dns_lookup_family: { enum: ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'] },
    dns_refresh_rate: 'duration',
    connect_timeout: 'duration',
    lb_policy: {
      enum: ['ROUND_ROBIN', 'LEAST_REQUEST', 'RING_HASH', 'RANDOM', 'MAGLEV', 'CLUSTER_PROVIDED'],
    },
    ring_hash_lb_config: msg('config.cluster.v3.Cluster.RingHashLbConfig'),
    load_assignment: msg('config.endpoint.v3.ClusterLoadAssignment'),
  },
  'config.cluster.v3.Cluster.RingHashLbConfig': { minimum_ring_size: 'uint32', maximum_ring_size: 'uint32' },
  'config.endpoint.v3.ClusterLoadAssignment': {
    cluster_name: 'string',
    endpoints: list(msg('config.endpoint.v3.LocalityLbEndpoints')),
  },
  'config.endpoint.v3.LocalityLbEndpoints': { lb_endpoints: list(msg('config.endpoint.v3.LbEndpoint')) },
  'config.endpoint.v3.LbEndpoint': { endpoint: msg('config.endpoint.v3.Endpoint') },
  'config.endpoint.v3.Endpoint': { address: msg('config.core.v3.Address') },
};

/** typed_config type URL → its message, and the extension name each is registered under. */
export const TYPED: Record<string, { message: string; names: readonly string[] }> = {
  'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig': {
    message: 'extensions.filters.udp.udp_proxy.v3.UdpProxyConfig',
    names: ['envoy.filters.udp_listener.udp_proxy'],
  },
  // The udp_proxy matcher's action: any name, this type.
  'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route': {
    message: 'extensions.filters.udp.udp_proxy.v3.Route',
    names: [],
  },
  'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': {
    message: 'extensions.filters.network.tcp_proxy.v3.TcpProxy',
    names: ['envoy.filters.network.tcp_proxy'],
  },
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': {
    message: 'extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    names: ['envoy.filters.network.http_connection_manager'],
  },
  'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router': {
    message: 'extensions.filters.http.router.v3.Router',
    names: ['envoy.filters.http.router'],
  },
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The problems of `value` as a `spec` at `path` (empty when it conforms). */
function check(value: unknown, spec: Spec, path: string, parentName?: unknown): string[] {
  if (spec === 'string') return typeof value === 'string' && value !== '' ? [] : [`${path}: not a string`];
  if (spec === 'uint32')
    return Number.isInteger(value) && (value as number) >= 0 ? [] : [`${path}: not an unsigned integer`];
  if (spec === 'bool') return typeof value === 'boolean' ? [] : [`${path}: not a boolean`];
  if (spec === 'duration')
    return typeof value === 'string' && /^\d+(\.\d+)?s$/.test(value) ? [] : [`${path}: not a duration`];
  if (spec === 'empty')
    return isObject(value) && Object.keys(value).length === 0 ? [] : [`${path}: not an empty message`];
  if (spec === 'typed') {
    if (!isObject(value)) return [`${path}: not a message`];
    const url = value['@type'];
    const typed = typeof url === 'string' ? TYPED[url] : undefined;
    if (!typed) return [`${path}: unknown @type ${String(url)}`];
    const named =
      typed.names.length === 0 || typed.names.includes(String(parentName))
        ? []
        : [`${path}: ${String(url)} under the name ${String(parentName)}`];
    const { ['@type']: _type, ...fields } = value;
    return [...named, ...check(fields, { message: typed.message }, path)];
  }
  if ('enum' in spec)
    return typeof value === 'string' && spec.enum.includes(value)
      ? []
      : [`${path}: ${String(value)} not in enum`];
  if ('list' in spec) {
    if (!Array.isArray(value)) return [`${path}: not a list`];
    return value.flatMap((item, i) => check(item, spec.list, `${path}[${i}]`));
  }
  const fields = MESSAGES[spec.message];
  if (!fields) return [`${path}: no schema for ${spec.message}`];
  if (!isObject(value)) return [`${path}: not a message ${spec.message}`];
  return Object.entries(value).flatMap(([key, v]) => {
    const field = fields[key];
    if (!field) return [`${path}.${key}: no field ${key} in ${spec.message}`];
    return check(v, field, `${path}.${key}`, value.name);
  });
}

/** The problems of an Envoy bootstrap against the fields above (empty when every field is known and well-typed). */
export function envoyBootstrapProblems(bootstrap: unknown): string[] {
  return check(bootstrap, { message: 'config.bootstrap.v3.Bootstrap' }, 'bootstrap');
}
