/** The part of oidc-provider 9 the benchmark's peer uses (the package ships no types). */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http"

  export interface Grant {
    addResourceScope(resource: string, scope: string): void
    addOIDCScope(scope: string): void
    save(): Promise<string>
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>)
    callback(): (request: IncomingMessage, response: ServerResponse) => void
    readonly Grant: new(properties: { readonly accountId: string; readonly clientId: string }) => Grant
    interactionDetails(request: IncomingMessage, response: ServerResponse): Promise<{ readonly uid: string; readonly params: Record<string, unknown> }>
    interactionFinished(
      request: IncomingMessage,
      response: ServerResponse,
      result: Record<string, unknown>,
      options?: { readonly mergeWithLastSubmission?: boolean }
    ): Promise<void>
  }

  export const errors: {
    readonly InvalidTarget: new(description?: string) => Error
  }
}
