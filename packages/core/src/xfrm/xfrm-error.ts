/**
 * Errors of the xfrm model, with the errno name Linux would give (EEXIST, ENOENT, EINVAL,
 * ENOSPC, EAGAIN), so callers and the `ip xfrm` front end can tell them apart.
 */

/** Why an xfrm operation was refused (EAGAIN: memory waits for a stalled reader; try again). */
export type XfrmErrorCode = 'EEXIST' | 'ENOENT' | 'EINVAL' | 'ENOSPC' | 'EAGAIN';

/** A refused xfrm operation; nothing was changed. */
export class XfrmError extends Error {
  constructor(
    readonly code: XfrmErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'XfrmError';
  }
}
