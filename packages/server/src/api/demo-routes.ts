/**
 * `shellguard demo` only: the simulated panels' doors and breakers, operable from the dashboard,
 * so a procedure can be walked through — and a wrong panel opened or a step skipped — without
 * hardware. These routes exist only when the demo passes its simulator to the server; they
 * touch the simulator (equipment seen by guardians over Modbus), never the server's own state.
 * Admin, engineer, manager and technician may use them (a viewer may not).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError } from './api-error.ts';
import { actorOf, requireRole } from './bearer-auth.ts';
import { ErrorResponse } from './schemas.ts';

export interface DemoSimulator {
  site: string;
  panels(): string[];
  setDoor(panel: string, open: boolean): void;
  setBreaker(panel: string, point: string, closed: boolean): void;
}

const PanelParams = Type.Object({ site: Type.String({ maxLength: 64 }), panel: Type.String({ maxLength: 64 }) });
const BreakerParams = Type.Object({ site: Type.String({ maxLength: 64 }), panel: Type.String({ maxLength: 64 }), point: Type.String({ pattern: '^(main_breaker|breaker_[1-6])_closed$' }) });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
const hands = requireRole(['admin', 'engineer', 'manager', 'technician']);

export const demoRoutes: FastifyPluginAsyncTypebox<{ simulator: DemoSimulator }> = async (app, { simulator }) => {
  const known = (site: string, panel: string) => {
    if (site !== simulator.site || !simulator.panels().includes(panel)) throw new ApiError('not_found', `no simulated panel ${site}/${panel}`);
  };

  app.get('/demo/panels', {
    schema: { tags: ['demo'], summary: 'The simulated panels (demo only)', response: { 200: Type.Object({ site: Type.String(), panels: Type.Array(Type.String()) }), ...errors } },
  }, async () => ({ site: simulator.site, panels: simulator.panels() }));

  app.post('/demo/panels/:site/:panel/door', {
    onRequest: hands,
    schema: { tags: ['demo'], summary: 'Open or close a simulated panel door (demo only)', params: PanelParams, body: Type.Object({ open: Type.Boolean() }, { additionalProperties: false }), response: { 200: Type.Object({ ok: Type.Boolean() }), ...errors } },
  }, async (req) => {
    known(req.params.site, req.params.panel);
    simulator.setDoor(req.params.panel, req.body.open);
    req.log.info({ actor: actorOf(req), panel: req.params.panel, open: req.body.open }, 'demo: simulated door changed');
    return { ok: true };
  });

  app.post('/demo/panels/:site/:panel/breakers/:point', {
    onRequest: hands,
    schema: { tags: ['demo'], summary: 'Operate a simulated breaker (demo only)', params: BreakerParams, body: Type.Object({ closed: Type.Boolean() }, { additionalProperties: false }), response: { 200: Type.Object({ ok: Type.Boolean() }), ...errors } },
  }, async (req) => {
    known(req.params.site, req.params.panel);
    simulator.setBreaker(req.params.panel, req.params.point, req.body.closed);
    req.log.info({ actor: actorOf(req), panel: req.params.panel, point: req.params.point, closed: req.body.closed }, 'demo: simulated breaker operated');
    return { ok: true };
  });
};
