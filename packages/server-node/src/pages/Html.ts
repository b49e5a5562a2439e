/**
 * Safe HTML templating: `html\`<p>${value}</p>\`` escapes every interpolated value unless it is itself the result
 * of `html` (or an array of such), so markup is built only from template literals written in this repository.
 *
 * Why no npm library: escaping for element content and quoted attribute values is six replacements (OWASP XSS
 * prevention rules 1 and 2). `escape-html` (Express's) is the same minus the backtick; `he` adds entity decoding and
 * a 60 KB table we never need. A dependency would add nothing but supply chain.
 *
 * What escaping does not cover, so templates never do it: an interpolation that is a URL in `href`/`src`/`action`
 * (a `javascript:` URL survives escaping: pages check the scheme first, see `Page.source`), and interpolations
 * inside `<script>` or `<style>` (there is no script, and the one stylesheet is a constant).
 */

const TypeId: unique symbol = Symbol("@tessera/server-node/pages/Html")

/** Markup that is already safe to emit: built by `html` (or `unsafeRaw` for constants). */
export interface Html {
  readonly [TypeId]: string
}

/** What a template accepts: text (escaped), safe markup, and arrays of either. `null`, `undefined` and booleans emit nothing. */
export type Interpolation = Html | string | number | bigint | boolean | null | undefined | ReadonlyArray<Interpolation>

const make = (value: string): Html => ({ [TypeId]: value })

export const isHtml = (u: unknown): u is Html => typeof u === "object" && u !== null && TypeId in u

/** The markup as a string. */
export const toString = (self: Html): string => self[TypeId]

const entities: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\"": "&quot;",
  "'": "&#39;",
  "`": "&#96;"
}

/** Escapes `& < > " ' \``: safe as element content and inside an attribute value quoted with `"` or `'`. */
export const escape = (text: string): string => text.replace(/[&<>"'`]/g, (c) => entities[c]!)

const render = (value: Interpolation): string => {
  if (value === null || value === undefined || typeof value === "boolean") return ""
  if (typeof value === "string") return escape(value)
  if (typeof value === "number" || typeof value === "bigint") return escape(String(value))
  if (isHtml(value)) return value[TypeId]
  let out = ""
  for (const item of value as ReadonlyArray<Interpolation>) out += render(item)
  return out
}

/** Template literal sites already checked (a site's strings array is the same object on every call). */
const checked = new WeakSet<TemplateStringsArray>()

/**
 * Attribute values must be quoted: `<a title=${x}>` would let a space in `x` start a new attribute, and escaping
 * cannot help there. A template that interpolates right after `=` is a programming error, thrown on first use.
 */
const checkQuoted = (strings: TemplateStringsArray) => {
  if (checked.has(strings)) return
  for (let i = 0; i < strings.length - 1; i++) {
    if (/=\s*$/.test(strings[i]!)) {
      throw new Error(`html: unquoted attribute value before interpolation ${i} in \`${strings.join("${…}")}\``)
    }
  }
  checked.add(strings)
}

/** The tagged template: every interpolation is escaped unless it is `Html`. */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Interpolation>): Html => {
  checkQuoted(strings)
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!
  return make(out)
}

/** Trusted markup emitted as is: only for constants in this folder (the stylesheet), never for data. */
export const unsafeRaw = (markup: string): Html => make(markup)

export const empty: Html = make("")
