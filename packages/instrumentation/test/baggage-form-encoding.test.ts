import { describe, expect, it } from 'vitest';
import { formDecodedEntry, isFormEncodedBaggage } from '../src/baggage-form-encoding.js';

// RELIABILITY row 51. What each OpenTelemetry implementation writes for trigger.principal = `user:jane doe+x@ex.com`.
const PYTHON = 'workflow.run_id=r-1,trigger.principal=user%3Ajane+doe%2Bx%40ex.com';
const JS = 'workflow.run_id=r-1,trigger.principal=user%3Ajane%20doe%2Bx%40ex.com';
const GO = 'workflow.run_id=r-1,trigger.principal=user:jane%20doe+x@ex.com';

describe('baggage form encoding (OpenTelemetry Python quote_plus)', () => {
  it("recognises the form encoder's fingerprint, and only it", () => {
    expect(isFormEncodedBaggage(PYTHON)).toBe(true);
    // No literal "+" that could mean a space, or literal baggage octets: compliant encoders.
    expect(formDecodedEntry(JS, 'trigger.principal')).toBeUndefined();
    expect(isFormEncodedBaggage(GO)).toBe(false);
    // No escape anywhere: no evidence, read as the spec says.
    expect(isFormEncodedBaggage('trigger.principal=jane+doe')).toBe(false);
    expect(isFormEncodedBaggage('')).toBe(false);
  });

  it('decodes "+" as a space and %2B as "+"', () => {
    expect(formDecodedEntry(PYTHON, 'trigger.principal')).toBe('user:jane doe+x@ex.com');
  });

  it('reads entries with properties, spaces around members and several header lines', () => {
    const header = ' a=1 , trigger.principal=user%3Aa+b;prop=1,c=%41';
    expect(isFormEncodedBaggage(header)).toBe(true);
    expect(formDecodedEntry(header, 'trigger.principal')).toBe('user:a b');
    expect(formDecodedEntry('trigger.principal=%E0%A4+a', 'trigger.principal')).toBeUndefined();
  });
});
