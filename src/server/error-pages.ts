/**
 * What a request that goes wrong gets back. A browser (its Accept names text/html) gets a
 * page in Chinese in the console's layout; an API client (Accept: application/json, or any
 * /api/ path, the operations view's, /health) gets JSON: `error`, a code, and `message`, in
 * Chinese. Neither gets a stack trace, a server path or the framework's English: those go to
 * the log (errors of the server), or stay in `detail` for API clients (scrubbed, paths cut).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { page } from '../console/layout.js';
import { html } from '../console/html.js';
import { scrubText } from '../privacy.js';
import { ADMIN_BOARD, authOf, OPS_BOARD } from './auth.js';
import type { Viewer } from '../console/layout.js';

const pathOf = (url: string): string => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

/** A browser's request, answered with a page; everything else is answered with JSON. */
export function answersHtml(req: FastifyRequest): boolean {
  const path = pathOf(req.url);
  if (path.startsWith('/api/') || path === '/api' || path.startsWith(OPS_BOARD) || path.startsWith(ADMIN_BOARD) || path === '/health') return false;
  return String(req.headers.accept ?? '').includes('text/html');
}

const STATUS_TEXT: Record<number, [string, string]> = {
  400: ['bad_request', '请求内容不正确，请检查后重试'],
  404: ['not_found', '没有这个页面或地址'],
  405: ['method_not_allowed', '不支持这种请求方式'],
  406: ['not_acceptable', '无法按要求的格式回答'],
  408: ['timeout', '请求超时，请重试'],
  413: ['too_large', '请求或上传的文件太大'],
  414: ['uri_too_long', '地址太长'],
  415: ['unsupported_media_type', '不支持的内容类型'],
  429: ['too_many_requests', '请求太频繁，请稍后再试'],
};

/** An error's own text as an API client may see it: personal data masked, server paths cut, one line. */
function detailOf(message: string): string {
  return scrubText(message)
    .replace(/(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}/g, '…')
    .split('\n')[0]!
    .slice(0, 300);
}

/** The signed-in user, for the page's navigation; none before sign-in (or when the error came first). */
function viewerOf(req: FastifyRequest): Viewer | undefined {
  try {
    const a = authOf(req);
    return { username: a.user.username, role: a.user.role, csrfToken: a.session?.csrfToken ?? '' };
  } catch {
    return undefined;
  }
}

function errorPage(req: FastifyRequest, reply: FastifyReply, status: number, title: string, text: string): FastifyReply {
  const body = html`<section class="error-page">
    <h1>${title}</h1>
    <p>${text}</p>
    <p><a href="/">返回首页</a></p>
  </section>`;
  return reply.code(status).type('text/html; charset=utf-8').send(page({ title, body, viewer: viewerOf(req) }));
}

export function registerErrorPages(server: FastifyInstance): void {
  server.setNotFoundHandler((req, reply) => {
    if (answersHtml(req)) return errorPage(req, reply, 404, '页面不存在', '您要找的页面不存在，可能地址有误，或该页面已被移除。请从首页重新进入。');
    return reply.code(404).send({ error: 'not_found', message: '没有这个地址' });
  });

  server.setErrorHandler((err: FastifyError | z.ZodError | Error, req, reply) => {
    if (err instanceof z.ZodError) {
      if (answersHtml(req)) return errorPage(req, reply, 400, '请求内容不正确', '提交的内容不符合要求，请返回上一页检查后重试。');
      return reply.code(400).send({ error: 'invalid_request', message: '请求内容不正确', issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      const [code, text] = STATUS_TEXT[status] ?? ['bad_request', '请求无法处理'];
      if (answersHtml(req)) return errorPage(req, reply, status, '请求无法处理', text);
      return reply.code(status).send({ error: code, message: text, detail: detailOf(err.message) });
    }
    req.log.error({ err }, 'request failed');
    if (answersHtml(req)) return errorPage(req, reply, 500, '服务器内部错误', '服务器处理请求时出错。请稍后重试；如果问题持续，请联系系统管理员（详情已记入服务器日志）。');
    return reply.code(500).send({ error: 'internal', message: '服务器内部错误，请联系系统管理员（详情见服务器日志）' });
  });
}
