/**
 * The API's one error handler: routes throw, this answers. A domain error gets its domain's
 * status (http-status/) and `{ error: { code, message } }`; a request that fails its schema gets
 * 400; anything else is a 500 whose body says nothing about what went wrong inside (STYLE.md §5:
 * a user never sees a stack trace), while the server log gets the whole story.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ShellguardError } from '@shellguard/protocol';
import { errorBody } from './api-error.ts';
import { httpStatusOf } from './http-status/domain-http-status.ts';

export function apiErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.validation) {
    return reply.code(400).send(errorBody('bad_request', `invalid request: ${err.message}`));
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(413).send(errorBody('body_too_large', err.message));
  }
  if (err instanceof ShellguardError) {
    const status = httpStatusOf(err);
    // 503: this server cannot serve it now (a standby replica, a closing stream); the message
    // says where or when to go, written for the caller.
    if (status >= 500 && status !== 503) {
      request.log.error({ code: err.code, err: err.message, stack: err.stack }, 'request failed');
      // The code is stable and safe to show; the message may name files, keys or queries.
      return reply.code(status).send(errorBody(err.code, 'internal error'));
    }
    request.log.info({ code: err.code }, 'request refused');
    return reply.code(status).send(errorBody(err.code, err.message));
  }
  // fastify's own client errors (unparseable JSON, unsupported media type, ...).
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send(errorBody('bad_request', err.message));
  }
  request.log.error({ err: err.message, stack: err.stack }, 'request failed');
  return reply.code(500).send(errorBody('internal', 'internal error; see the server log'));
}
