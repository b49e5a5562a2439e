/** The part of autocannon 9's programmatic API the token benchmark uses (the package ships no types). */
declare module "autocannon" {
  import type { EventEmitter } from "node:events"

  /** One request of a sequence; `setupRequest` rebuilds it before every send (autocannon 9 `requests` option). */
  export interface RequestOptions {
    readonly method?: string
    readonly headers?: Record<string, string>
    readonly body?: string
    readonly setupRequest?: (request: RequestOptions, context: Record<string, unknown>) => RequestOptions
    /** Called with every answer to this request, its body as text. */
    readonly onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void
  }

  export interface Options {
    readonly url: string
    readonly requests?: ReadonlyArray<RequestOptions>
    readonly connections?: number
    readonly duration?: number
    /** A fixed number of requests instead of a duration. */
    readonly amount?: number
    readonly method?: string
    readonly headers?: Record<string, string>
    readonly body?: string
  }

  export interface Result {
    readonly duration: number
    readonly errors: number
    readonly timeouts: number
    readonly non2xx: number
    readonly "2xx": number
    readonly requests: { readonly total: number; readonly sent: number }
  }

  export interface Instance extends EventEmitter {
    on(event: "response", listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): this
    on(event: "done", listener: (result: Result) => void): this
  }

  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance
  export default autocannon
}
