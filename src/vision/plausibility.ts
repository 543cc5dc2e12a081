/**
 * Length plausibility of a US registration: most standard plates carry 5-7 characters, 2-8
 * are issued (vanity and specialty plates; AAMVA plate standards); anything else is more
 * likely a sign, a slogan, a timestamp or a misread. Returns a weight in 0..1.
 */
export function plausibility(text: string): number {
  const n = text.length;
  if (n >= 5 && n <= 7) return 1;
  if (n === 4 || n === 8) return 0.8;
  if (n === 3) return 0.5;
  if (n === 2) return 0.3;
  return 0.1;
}
