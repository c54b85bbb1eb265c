import { classTransitionRate, ibanValid, luhnValid, shannonEntropy } from '../src';

describe('luhnValid', () => {
  it.each([
    ['4111111111111111', true],
    ['4111 1111 1111 1111', true],
    ['5555-5555-5555-4444', true],
    ['378282246310005', true],
    ['6011111111111117', true],
    ['79927398713', true],
    ['4111111111111112', false],
    ['79927398710', false],
    ['', false],
    ['abc', false],
  ])('%s is %s', (value, valid) => {
    expect(luhnValid(value)).toBe(valid);
  });
});

describe('ibanValid', () => {
  it.each([
    ['GB82 WEST 1234 5698 7654 32', true],
    ['GB82WEST12345698765432', true],
    ['DE89370400440532013000', true],
    ['FR1420041010050500013M02606', true],
    ['NL91ABNA0417164300', true],
    ['gb82 west 1234 5698 7654 32', true],
    ['GB82 WEST 1234 5698 7654 33', false],
    ['DE89370400440532013001', false],
    ['GB82', false],
    ['1234WEST12345698765432', false],
  ])('%s is %s', (value, valid) => {
    expect(ibanValid(value)).toBe(valid);
  });
});

describe('shannonEntropy', () => {
  it.each([
    ['', 0],
    ['aaaa', 0],
    ['abab', 1],
    ['abcd', 2],
    ['0123456789abcdef', 4],
  ])('%j has %d bits per character', (value, bits) => {
    expect(shannonEntropy(value)).toBeCloseTo(bits, 10);
  });
});

describe('classTransitionRate', () => {
  it.each([
    ['aaaa', 0],
    ['a1a1', 1],
    ['aA1', 1],
    ['k8s-prod-eu-west-1-cluster-01', 5 / 22],
    ['x', 0],
  ])('%s changes class at rate %d', (value, rate) => {
    expect(classTransitionRate(value)).toBeCloseTo(rate, 10);
  });
});
