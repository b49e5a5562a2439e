/** A registered client for the domain's table tests: a public web app of realm r1, with `metadata` changed. */
import { DateTime } from "effect"
import type { Client } from "@tessera/domain"

export const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")

export const clientWith = (metadata: Partial<Client.Metadata> = {}, clientId = "c1"): Client.Client => ({
  realmId: "r1",
  clientId,
  createdAt: at,
  metadata: {
    redirectUris: ["https://app.example/cb"],
    postLogoutRedirectUris: [],
    grantTypes: ["authorization_code"],
    responseTypes: ["code"],
    tokenEndpointAuthMethod: "none",
    frontchannelLogoutSessionRequired: false,
    dpopBoundAccessTokens: false,
    principalType: "app",
    ...metadata
  }
})
