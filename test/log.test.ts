import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.js';
import { maskIdNumber, maskName, maskPhone, scrubText } from '../src/privacy.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('info', stream), text: () => lines.join('') };
}

const ID = '520203197012170351';
const PHONE = '18333835309';

describe('logging never prints personal data', () => {
  it('redacts names, id numbers and phones in structured fields, nested too', () => {
    const { logger, text } = capture();
    logger.info({ name: '李旭', idNumber: ID, phone: PHONE, person: { name: '秦子涵', id_number: ID }, rows: [{ phone: PHONE }] }, 'matched');
    const out = text();
    expect(out).not.toContain('李旭');
    expect(out).not.toContain('秦子涵');
    expect(out).not.toContain(ID);
    expect(out).not.toContain(PHONE);
    expect(out).toContain('[redacted]');
  });

  it('scrubs id numbers and phones out of messages and errors', () => {
    const { logger, text } = capture();
    logger.warn(`row for ${ID} has phone +86 ${PHONE}`);
    logger.error({ err: new Error(`bad id ${ID}`) }, 'failed');
    const out = text();
    expect(out).not.toContain(ID);
    expect(out).not.toContain(PHONE);
    expect(out).toContain('520203********0351');
  });
});

describe('masking helpers', () => {
  it('mask ids, names and phones for display', () => {
    expect(maskIdNumber(ID)).toBe('520203********0351');
    expect(maskName('欧阳明月')).toBe('欧***');
    expect(maskName('李旭')).toBe('李*');
    expect(maskPhone('139-1234-5678')).toBe('139****5678');
  });
  it('leaves settlement ids and money alone but catches certificate numbers', () => {
    expect(scrubText('结算 20250100000001 金额 12345.67')).toBe('结算 20250100000001 金额 12345.67');
    expect(scrubText(`证号 ${ID}14`)).not.toContain(ID);
  });
});
