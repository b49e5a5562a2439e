/** A person at a browser, by hand, for the end-to-end tests: a cookie jar and forms read back from the page (CONTRACT §4). */

export const person = () => {
  const jar = new Map<string, string>()
  const remember = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";")
      const eq = pair!.indexOf("=")
      jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim())
    }
  }
  /** The Cookie header this browser sends. */
  const cookie = () => Array.from(jar, ([k, v]) => `${k}=${v}`).join("; ")
  const go = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: cookie() } })
    remember(res)
    return res
  }
  /** Follows redirects that stay on Tessera; stops at a page or at a redirect elsewhere. */
  const follow = async (base: string, first: Response): Promise<{ res: Response; url: string; html: string }> => {
    let res = first
    let url = ""
    for (let hops = 0; hops < 10; hops++) {
      const location = res.headers.get("location")
      if (location === null || !new URL(location, base).href.startsWith(base)) break
      url = new URL(location, base).href
      res = await go(url)
    }
    return { res, url, html: res.status < 300 || res.status >= 400 ? await res.text() : "" }
  }
  /** Submits the page's post form with its hidden fields unchanged plus `fields`. */
  const submit = async (base: string, pageUrl: string, html: string, fields: Record<string, string>) => {
    const form = /<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html)
    if (form === null) throw new Error(`no form on the page:\n${html.slice(0, 2000)}`)
    const action = /action="([^"]*)"/.exec(form[0])?.[1]?.replace(/&amp;/g, "&")
    const body = new URLSearchParams()
    for (const input of form[1]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1]
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? ""
      if (name !== undefined) body.set(name, value.replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"))
    }
    for (const [k, v] of Object.entries(fields)) body.set(k, v)
    const target = new URL(action ?? pageUrl, pageUrl).href
    return follow(base, await go(target, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }))
  }
  /** Every cookie value the browser was given so far (the log and trace tests search for them). */
  const cookies = () => Array.from(jar.values())
  return { go, follow, submit, cookies, cookie }
}
