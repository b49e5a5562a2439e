/** Who asked, for the audit trail (CONTRACT §7: ip and user_agent): every flow that writes an event takes one. */
export interface RequestContext {
  readonly ip?: string | undefined
  readonly userAgent?: string | undefined
}

/** The event fields of a request context: only those it has. */
export const audited = (context: RequestContext) => ({
  ...(context.ip !== undefined ? { ip: context.ip } : {}),
  ...(context.userAgent !== undefined ? { userAgent: context.userAgent } : {})
})
