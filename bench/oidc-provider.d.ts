/** The part of oidc-provider 9 the benchmark's peer uses (the package ships no types). */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http"

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>)
    callback(): (request: IncomingMessage, response: ServerResponse) => void
  }

  export const errors: {
    readonly InvalidTarget: new(description?: string) => Error
  }
}
