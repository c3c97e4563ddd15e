import type { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { errorCatalogue, type ErrorCode } from '../services/errors';
import type { ApiRouter } from './api-deps';
import * as s from './api-schemas';

/**
 * GET /api/openapi.json: the OpenAPI 3.1 document of the admin API, generated from
 * the schemas in api-schemas.ts that the routes validate with (zod-openapi renders
 * them through zod's own JSON Schema conversion). A test holds it to the router:
 * every route is in it, and real answers match the schemas it declares.
 */

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

function ok(description: string, schema: z.ZodType) {
  return { description, content: json(schema) };
}

/** The catalogue's errors an operation can answer with, each with the error shape. */
function errors(...codes: ErrorCode[]): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const code of codes) {
    const { status, message } = errorCatalogue[code];
    out[String(status) as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: `\`${code}\`: ${message}`,
      content: json(s.errorAnswer),
    };
  }
  return out;
}

/** Every route that needs the token can answer 401; a body route also 400, 413 and 415. */
const AUTH: ErrorCode[] = ['unauthorized'];
const BODY: ErrorCode[] = [
  'unauthorized',
  'bad_request',
  'payload_too_large',
  'unsupported_media_type',
];

function body(schema: z.ZodType): ZodOpenApiOperationObject['requestBody'] {
  return { required: true, content: json(schema) };
}

const teamPath = { path: s.teamParams };

/** The paths of the document, keyed as OpenAPI spells them (`{teamId}`, not `:teamId`). */
export function apiPaths(): ZodOpenApiPathsObject {
  return {
    '/api/health': {
      get: {
        summary: 'Liveness: 200 while the process runs',
        security: [],
        responses: { '200': ok('the process runs', s.healthAnswer) },
      },
    },
    '/api/ready': {
      get: {
        summary: 'Readiness: each backend up, down or disabled',
        security: [],
        responses: {
          '200': ok('ready', s.readyAnswer),
          '503': ok('a backend is down, or the node is draining', s.readyAnswer),
        },
      },
    },
    '/api/openapi.json': {
      get: {
        summary: 'This document',
        responses: {
          '200': ok('the OpenAPI 3.1 document', s.openApiAnswer),
          ...errors(...AUTH),
        },
      },
    },
    '/api/teams': {
      get: {
        summary: 'Stored teams and teams with live connections, sorted by id',
        responses: { '200': ok('the teams', s.teamsAnswer), ...errors(...AUTH, 'unavailable') },
      },
      post: {
        summary: 'Create a team',
        requestBody: body(s.createTeamBody),
        responses: {
          '201': ok('the new team', s.teamAnswer),
          ...errors(...BODY, 'conflict', 'unavailable'),
        },
      },
    },
    '/api/teams/{teamId}': {
      get: {
        summary: 'A team with its members',
        requestParams: teamPath,
        responses: {
          '200': ok('the team', s.teamDetailAnswer),
          ...errors(...AUTH, 'bad_request', 'not_found', 'unavailable'),
        },
      },
      patch: {
        summary: 'Rename a team, also one first recorded by a socket',
        requestParams: teamPath,
        requestBody: body(s.renameTeamBody),
        responses: {
          '200': ok('the renamed team', s.teamAnswer),
          ...errors(...BODY, 'not_found', 'unavailable'),
        },
      },
    },
    '/api/teams/{teamId}/messages': {
      get: {
        summary: 'A page of history, oldest first',
        description:
          'While SQL Server is down the page comes from what the engine retains and says `archive: "down"`.',
        requestParams: { path: s.teamParams, query: s.historyQuery },
        responses: {
          '200': ok('a page of messages', s.messagesAnswer),
          ...errors(...AUTH, 'bad_request', 'not_found', 'unavailable'),
        },
      },
      post: {
        summary: 'Publish into a team (or to one member with `to`)',
        requestParams: teamPath,
        requestBody: body(s.publishBody),
        responses: {
          '201': ok('stored and published', s.ackAnswer),
          ...errors(...BODY, 'not_found', 'unavailable', 'indeterminate'),
        },
      },
    },
    '/api/broadcast': {
      post: {
        summary: 'Publish into every team with a live connection',
        requestBody: body(s.broadcastBody),
        responses: {
          '202': ok('published', s.broadcastAnswer),
          ...errors(...BODY, 'unavailable'),
        },
      },
    },
    '/api/connections': {
      get: {
        summary: 'Open connections across the cluster, a page at a time',
        requestParams: { query: s.connectionsQuery },
        responses: {
          '200': ok('a page of connections', s.connectionsAnswer),
          ...errors(...AUTH, 'bad_request', 'unavailable'),
        },
      },
    },
    '/api/connections/{connId}': {
      delete: {
        summary: 'Close a connection with 4000, on whichever node holds it',
        requestParams: { path: s.connectionParams },
        responses: {
          '204': { description: 'closing' },
          ...errors(...AUTH, 'bad_request', 'not_found', 'unavailable'),
        },
      },
    },
    '/api/dead-letters': {
      get: {
        summary: 'Messages SQL Server refused to archive, oldest first',
        requestParams: { query: s.deadLettersQuery },
        responses: {
          '200': ok('a page of dead letters', s.deadLettersAnswer),
          ...errors(...AUTH, 'bad_request', 'unavailable'),
        },
      },
    },
    '/api/dead-letters/{id}': {
      delete: {
        summary: 'Remove a dead letter',
        requestParams: { path: s.deadLetterParams },
        responses: {
          '204': { description: 'removed' },
          ...errors(...AUTH, 'bad_request', 'not_found', 'unavailable'),
        },
      },
    },
    '/api/bans': {
      get: {
        summary: 'Active bans',
        responses: { '200': ok('the bans', s.bansAnswer), ...errors(...AUTH, 'unavailable') },
      },
      post: {
        summary: 'Ban a user in a team or everywhere: their sockets close with 4003 on every node',
        description:
          'Their handshakes get 403 `banned` until the ban expires or is lifted. A second ban of the same user and team replaces the first.',
        requestBody: body(s.banBody),
        responses: {
          '201': ok('the ban', s.banAnswer),
          ...errors(...BODY, 'conflict', 'unavailable'),
        },
      },
    },
    '/api/bans/{userId}': {
      delete: {
        summary: 'Lift a ban',
        requestParams: { path: s.liftParams, query: s.liftQuery },
        responses: {
          '204': { description: 'lifted' },
          ...errors(...AUTH, 'bad_request', 'not_found', 'unavailable'),
        },
      },
    },
    '/api/stats': {
      get: {
        summary: "The admin page's live charts: the last minutes of this node and of the cluster",
        responses: { '200': ok('the samples', s.statsAnswer), ...errors(...AUTH) },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        responses: {
          '200': {
            description: 'Prometheus text',
            content: { 'text/plain': { schema: s.metricsAnswer } },
          },
          ...errors(...AUTH),
        },
      },
    },
    '/socket': {
      get: {
        summary: 'The WebSocket endpoint (docs/PROTOCOL.md); a plain GET is refused',
        security: [],
        responses: errors('upgrade_required'),
      },
    },
  };
}

export function openApiDocument(): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Switchboard admin API',
      version: '1',
      description:
        'JSON in and out. Errors are `{"error":{"code","message"}}` (docs/PROTOCOL.md §3).',
    },
    components: {
      securitySchemes: { admin: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' } },
    },
    security: [{ admin: [] }],
    paths: apiPaths(),
  });
}

export function openApiRoutes(router: ApiRouter): void {
  // Built on first request, then kept: the schemas never change while the process runs.
  let document: ReturnType<typeof createDocument> | undefined;
  router.get('/api/openapi.json', (ctx) => {
    document ??= openApiDocument();
    ctx.body = document;
  });
}
