import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RedfishError } from '../../../src/drivers/redfish/errors.ts';
import { RedfishRequest, SESSIONS_PATH, buildRequest, checkBuiltRequest, type RequestSpec } from '../../../src/drivers/redfish/request.ts';

const SESSION = `${SESSIONS_PATH}/17`;

function refusal(spec: unknown, session?: string): RedfishError {
  try {
    buildRequest(spec as RequestSpec, session);
  } catch (err) {
    if (err instanceof RedfishError) return err;
    throw err;
  }
  throw new Error(`not refused: ${JSON.stringify(spec)}`);
}

describe('buildRequest', () => {
  it('makes GETs of /redfish/v1 paths, the login and the logout of the current session', () => {
    expect(buildRequest({ method: 'GET', path: '/redfish/v1/Chassis/1/Thermal' })).toMatchObject({ method: 'GET', purpose: 'read' });
    expect(buildRequest({ method: 'GET', path: '/redfish/v1' }).body).toBeUndefined();
    const login = buildRequest({ method: 'POST', path: SESSIONS_PATH, body: { UserName: 'u', Password: 'p"w' } });
    expect(JSON.parse(login.body!.toString())).toEqual({ UserName: 'u', Password: 'p"w' });
    expect(buildRequest({ method: 'DELETE', path: SESSION }, SESSION)).toMatchObject({ method: 'DELETE', purpose: 'logout' });
  });

  it.each([
    ['PATCH of the chassis', { method: 'PATCH', path: '/redfish/v1/Chassis/1' }, undefined],
    ['PUT of a resource', { method: 'PUT', path: '/redfish/v1/Chassis/1/Power' }, undefined],
    ['POST of ComputerSystem.Reset', { method: 'POST', path: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', body: { UserName: 'u', Password: 'p' } }, undefined],
    ['POST to the account service', { method: 'POST', path: '/redfish/v1/AccountService/Accounts', body: { UserName: 'u', Password: 'p' } }, undefined],
    ['POST to the sessions collection with more than a login', { method: 'POST', path: SESSIONS_PATH, body: { UserName: 'u', Password: 'p', Roles: ['Administrator'] } }, undefined],
    ['DELETE of a resource', { method: 'DELETE', path: '/redfish/v1/Chassis/1' }, SESSION],
    ['DELETE of another session', { method: 'DELETE', path: `${SESSIONS_PATH}/18` }, SESSION],
    ['DELETE without a session', { method: 'DELETE', path: SESSION }, undefined],
    ['GET of an action URI', { method: 'GET', path: '/redfish/v1/Chassis/1/Actions/Chassis.Reset' }, undefined],
    ['HEAD', { method: 'HEAD', path: '/redfish/v1' }, undefined],
    ['a lower-case get', { method: 'get', path: '/redfish/v1' }, undefined],
    ['a path outside /redfish/v1', { method: 'GET', path: '/admin/reboot' }, undefined],
    ['a dot segment', { method: 'GET', path: '/redfish/v1/../../etc' }, undefined],
    ['an encoded dot segment', { method: 'GET', path: '/redfish/v1/%2e%2e/x' }, undefined],
    ['a query string', { method: 'GET', path: '/redfish/v1/Chassis?$expand=*' }, undefined],
    ['CRLF in the path', { method: 'GET', path: '/redfish/v1/x\r\nX-HTTP-Method-Override: PATCH' }, undefined],
    ['a GET with a body', { method: 'GET', path: '/redfish/v1', body: { a: 1 } }, undefined],
  ])('refuses %s with redfish_method_refused', (_name, spec, session) => {
    const err = refusal(spec, session);
    expect(err.code).toBe('redfish_method_refused');
    expect(err.message).toMatch(/only reads/);
  });

  it('refuses every method but GET, POST (login) and DELETE (logout)', () => {
    fc.assert(fc.property(fc.string({ minLength: 0, maxLength: 12 }).filter((m) => !['GET', 'POST', 'DELETE'].includes(m)), (method) => {
      expect(refusal({ method, path: '/redfish/v1' }, SESSION).code).toBe('redfish_method_refused');
    }));
  });

  it('never lets POST or DELETE reach any path but the login and the current session', () => {
    fc.assert(fc.property(fc.constantFrom('POST', 'DELETE'), fc.webPath(), (method, tail) => {
      const path = `/redfish/v1${tail}`;
      fc.pre(path !== SESSIONS_PATH && path !== SESSION);
      expect(refusal({ method, path, ...(method === 'POST' ? { body: { UserName: 'u', Password: 'p' } } : {}) }, SESSION).code).toBe('redfish_method_refused');
    }));
  });

  it('keeps the password out of the request as logged', () => {
    const login = buildRequest({ method: 'POST', path: SESSIONS_PATH, body: { UserName: 'u', Password: 'hunter2' } });
    expect(JSON.stringify(login)).not.toContain('hunter2');
  });
});

describe('checkBuiltRequest (the transport re-check)', () => {
  it('refuses an object that only looks like a request', () => {
    const forged = Object.assign(Object.create(RedfishRequest.prototype) as object, { method: 'PATCH', path: '/redfish/v1/Chassis/1', purpose: 'read' });
    expect(() => checkBuiltRequest(forged, undefined)).toThrow(expect.objectContaining({ code: 'redfish_method_refused' }));
    expect(() => checkBuiltRequest({ method: 'GET', path: '/redfish/v1' }, undefined)).toThrow(/only requests made by buildRequest/);
  });

  it('refuses a genuine logout once the session it named is no longer the current one', () => {
    const logout = buildRequest({ method: 'DELETE', path: SESSION }, SESSION);
    expect(checkBuiltRequest(logout, SESSION)).toBe(logout);
    expect(() => checkBuiltRequest(logout, `${SESSIONS_PATH}/18`)).toThrow(expect.objectContaining({ code: 'redfish_method_refused' }));
  });

  it('refuses a request whose fields were changed after it was built', () => {
    const get = buildRequest({ method: 'GET', path: '/redfish/v1' });
    (get as { method: string }).method = 'PATCH';
    expect(() => checkBuiltRequest(get, undefined)).toThrow(expect.objectContaining({ code: 'redfish_method_refused' }));
  });
});
