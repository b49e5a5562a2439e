/** What a token response holds (RFC 6749 §5.1, OIDC Core §3.1.3.3, RFC 8693 §2.2.1); `TokenIssuance` issues it. */
export interface TokenSet {
  readonly accessToken: string
  readonly expiresIn: number
  readonly scope: ReadonlyArray<string>
  readonly idToken?: string
  readonly refreshToken?: string
  /** RFC 8693 §2.2.1: the type of the token issued by an exchange. */
  readonly issuedTokenType?: string
}
