// The address a request came from, through the trusted reverse proxies of the configuration
// (`--trusted-proxies`; the rule is in src/core/client-address.ts).
import type { Config } from "../config";
import { clientAddress } from "../core/client-address";
import { parseAllowList, type Cidr } from "../core/netrange";

type PeerOf = { requestIP(r: Request): { address: string } | null } | null | undefined;

const parsed = new WeakMap<Config, Cidr[]>();

/** The trusted proxies of a configuration (validated when the configuration was loaded). */
function trustedOf(config: Config): Cidr[] {
  let t = parsed.get(config);
  if (!t) parsed.set(config, (t = parseAllowList(config.trustedProxies ?? "")));
  return t;
}

/** The client's address, or null when the server does not know its peer (a request made in-process). */
export function requestAddress(config: Config, server: PeerOf, request: Request): string | null {
  return clientAddress(server?.requestIP(request)?.address ?? null, request.headers.get("x-forwarded-for"), trustedOf(config));
}
