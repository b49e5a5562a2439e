/**
 * Which kind of address an IP literal is, after the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890,
 * RFC 8190): pure, so the outbound Fetcher's address policy is table-tested without DNS.
 */

export type Kind =
  | "public"
  | "loopback"
  | "private"
  | "link_local"
  | "cgnat"
  | "unspecified"
  | "multicast"
  | "documentation"
  | "benchmarking"
  | "reserved"
  | "invalid"

/** `a.b.c.d` to its 32 bits, or undefined (no leading zeros: `010` is octal to some parsers and ambiguous). */
export const parseIpv4 = (text: string): number | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  let value = 0
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined
    const n = Number(part)
    if (n > 255) return undefined
    value = value * 256 + n
  }
  return value
}

/** An IPv6 literal (RFC 4291 §2.2, also with a dotted IPv4 tail) to its 8 groups of 16 bits, or undefined. */
export const parseIpv6 = (text: string): ReadonlyArray<number> | undefined => {
  // a zone index (fe80::1%eth0) names an interface, not part of the address
  let body = text.includes("%") ? text.slice(0, text.indexOf("%")) : text
  let tail: ReadonlyArray<number> = []
  const lastColon = body.lastIndexOf(":")
  if (lastColon < 0) return undefined
  const last = body.slice(lastColon + 1)
  if (last.includes(".")) {
    // RFC 4291 §2.2 item 3: the low 32 bits written as dotted IPv4
    const value = parseIpv4(last)
    if (value === undefined) return undefined
    tail = [Math.floor(value / 65536), value % 65536]
    body = body.slice(0, lastColon + 1)
    if (!body.endsWith("::")) body = body.slice(0, -1)
  }
  const halves = body.split("::")
  if (halves.length > 2) return undefined
  const groups = (s: string) => s === "" ? [] : s.split(":")
  const head = groups(halves[0]!)
  const rest = halves.length === 2 ? groups(halves[1]!) : []
  const total = head.length + rest.length + tail.length
  // without "::" exactly 8 groups; "::" stands for at least one group of zeros
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined
  const hex = (g: string) => /^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : Number.NaN
  const zeros = Array.from({ length: 8 - total }, () => 0)
  const result = [...head.map(hex), ...zeros, ...rest.map(hex), ...tail]
  return result.every((n) => Number.isInteger(n)) ? result : undefined
}

const v4 = (cidr: string): readonly [number, number] => {
  const [address, bits] = cidr.split("/")
  return [parseIpv4(address!)!, Number(bits)]
}

/** IPv4 special-purpose blocks (IANA registry), most specific meaning first. */
const ipv4Blocks: ReadonlyArray<readonly [readonly [number, number], Kind]> = [
  [v4("0.0.0.0/8"), "unspecified"], // RFC 791 "this network"
  [v4("10.0.0.0/8"), "private"], // RFC 1918
  [v4("100.64.0.0/10"), "cgnat"], // RFC 6598 shared address space
  [v4("127.0.0.0/8"), "loopback"], // RFC 1122
  [v4("169.254.0.0/16"), "link_local"], // RFC 3927
  [v4("172.16.0.0/12"), "private"], // RFC 1918
  [v4("192.0.0.0/24"), "reserved"], // RFC 6890 IETF protocol assignments
  [v4("192.0.2.0/24"), "documentation"], // RFC 5737 TEST-NET-1
  [v4("192.31.196.0/24"), "reserved"], // RFC 7535 AS112-v4
  [v4("192.52.193.0/24"), "reserved"], // RFC 7450 AMT
  [v4("192.88.99.0/24"), "reserved"], // RFC 7526 deprecated 6to4 relay anycast
  [v4("192.168.0.0/16"), "private"], // RFC 1918
  [v4("192.175.48.0/24"), "reserved"], // RFC 7534 AS112 direct delegation
  [v4("198.18.0.0/15"), "benchmarking"], // RFC 2544
  [v4("198.51.100.0/24"), "documentation"], // RFC 5737 TEST-NET-2
  [v4("203.0.113.0/24"), "documentation"], // RFC 5737 TEST-NET-3
  [v4("224.0.0.0/4"), "multicast"], // RFC 5771
  [v4("240.0.0.0/4"), "reserved"] // RFC 1112 future use, and 255.255.255.255 limited broadcast (RFC 919)
]

export const classifyIpv4 = (address: number): Kind => {
  for (const [[base, bits], kind] of ipv4Blocks) {
    const size = 2 ** (32 - bits)
    if (address >= base && address < base + size) return kind
  }
  return "public"
}

/** The first `bits` bits of two addresses agree. */
const within = (groups: ReadonlyArray<number>, prefix: ReadonlyArray<number>, bits: number) => {
  for (let i = 0; i * 16 < bits; i++) {
    const take = Math.min(16, bits - i * 16)
    const mask = (0xffff << (16 - take)) & 0xffff
    if (((groups[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false
  }
  return true
}

const embeddedIpv4 = (groups: ReadonlyArray<number>) => groups[6]! * 65536 + groups[7]!

export const classifyIpv6 = (g: ReadonlyArray<number>): Kind => {
  if (g.every((n) => n === 0)) return "unspecified" // RFC 4291 §2.5.2 ::
  if (within(g, [0, 0, 0, 0, 0, 0, 0, 1], 128)) return "loopback" // RFC 4291 §2.5.3 ::1
  // RFC 4291 §2.5.5.2 IPv4-mapped ::ffff:a.b.c.d: what is reached is the IPv4 address
  if (within(g, [0, 0, 0, 0, 0, 0xffff], 96)) return classifyIpv4(embeddedIpv4(g))
  // RFC 6052 §2.1 NAT64 well-known prefix 64:ff9b::/96: the translator reaches the embedded IPv4 address
  if (within(g, [0x64, 0xff9b, 0, 0, 0, 0], 96)) return classifyIpv4(embeddedIpv4(g))
  if (within(g, [0xfe80], 10)) return "link_local" // RFC 4291 §2.5.6
  if (within(g, [0xfec0], 10)) return "private" // RFC 3879 deprecated site-local
  if (within(g, [0xfc00], 7)) return "private" // RFC 4193 unique local
  if (within(g, [0xff00], 8)) return "multicast" // RFC 4291 §2.7
  if (within(g, [0x2001, 0x0db8], 32)) return "documentation" // RFC 3849
  if (within(g, [0x3fff], 20)) return "documentation" // RFC 9637
  if (within(g, [0x2001, 0x0002, 0], 48)) return "benchmarking" // RFC 5180
  // RFC 2928 IETF protocol assignments (Teredo, ORCHID, ...): tunnels and identifiers, not a server's address
  if (within(g, [0x2001, 0], 23)) return "reserved"
  if (within(g, [0x2002], 16)) return "reserved" // RFC 3056 6to4 (RFC 7526: deprecated): it would tunnel to any IPv4
  // RFC 4291 §2.4: global unicast is 2000::/3; everything else (::/8 with IPv4-compatible, 100::/64 discard,
  // 64:ff9b:1::/48 local NAT64, 5f00::/16 SRv6, unassigned space) is not a public server's address
  if (!within(g, [0x2000], 3)) return "reserved"
  return "public"
}

/** Classifies an IPv4 or IPv6 literal (IPv6 with or without brackets). */
export const classify = (address: string): Kind => {
  const text = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address
  if (text.includes(":")) {
    const groups = parseIpv6(text)
    return groups === undefined ? "invalid" : classifyIpv6(groups)
  }
  const value = parseIpv4(text)
  return value === undefined ? "invalid" : classifyIpv4(value)
}

/**
 * Any address as IPv6's 8 groups: an IPv4 address as its IPv4-mapped form `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), so
 * both families compare in one space. Brackets are allowed around IPv6; undefined for anything else.
 */
export const parse = (address: string): ReadonlyArray<number> | undefined => {
  const text = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address
  if (text.includes(":")) return parseIpv6(text)
  const value = parseIpv4(text)
  return value === undefined ? undefined : [0, 0, 0, 0, 0, 0xffff, Math.floor(value / 65536), value % 65536]
}

/**
 * The canonical text of 8 groups: an IPv4-mapped address as dotted IPv4 (one client, one name, whichever socket
 * family it arrived on); any other IPv6 in RFC 5952 §4 form (lower case, no leading zeros, the longest run of two or
 * more zero groups, the first of equals, as `::`).
 */
export const format = (groups: ReadonlyArray<number>): string => {
  if (within(groups, [0, 0, 0, 0, 0, 0xffff], 96)) {
    const v = embeddedIpv4(groups)
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".")
  }
  let best = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) [best, bestLength] = [i, j - i]
    i = j
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(":")
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLength, 8)}`
}

/** An address block: its first address as 8 groups and how many leading bits belong to the block. */
export interface Cidr {
  readonly groups: ReadonlyArray<number>
  readonly bits: number
}

/** `address` or `address/bits` (IPv4 bits 0-32, IPv6 0-128); an IPv4 block is kept as its IPv4-mapped block. */
export const parseCidr = (text: string): Cidr | undefined => {
  const slash = text.indexOf("/")
  const address = slash < 0 ? text : text.slice(0, slash)
  const groups = parse(address)
  if (groups === undefined) return undefined
  const max = address.includes(":") ? 128 : 32
  if (slash < 0) return { groups, bits: 128 }
  const bitsText = text.slice(slash + 1)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > max) return undefined
  return { groups, bits: Number(bitsText) + (128 - max) }
}

/** Whether an address (8 groups, as `parse` gives them) lies in the block. */
export const inCidr = (groups: ReadonlyArray<number>, cidr: Cidr) => within(groups, cidr.groups, cidr.bits)

/** A comma-separated list of addresses and CIDRs (`TESSERA_TRUSTED_PROXIES`): the blocks, or the first bad entry. */
export const parseCidrList = (text: string): { readonly cidrs: ReadonlyArray<Cidr> } | { readonly bad: string } => {
  const cidrs: Array<Cidr> = []
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (entry === "") continue
    const cidr = parseCidr(entry)
    if (cidr === undefined) return { bad: entry }
    cidrs.push(cidr)
  }
  return { cidrs }
}
