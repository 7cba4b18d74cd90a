// IMEI validation as the buyer types: the same rules as the server's
// (fl_imei_parse): spaces, dashes and slashes may separate the digits; an
// IMEI has 15 digits and its last one is the Luhn check digit of the
// other 14; 16 digits is an IMEISV, not an IMEI.

// Returns the 15 digits of s, or throws an Error whose message says what
// is wrong.
export function parseImei(s) {
  const digits = s.replace(/[\s\-\/]/g, '');
  if (!/^[0-9]*$/.test(digits))
    throw new Error('An IMEI has only digits.');
  if (digits.length === 16)
    throw new Error('That is an IMEISV (16 digits). The IMEI has 15.');
  if (digits.length !== 15)
    throw new Error(`An IMEI has 15 digits; this has ${digits.length}.`);
  if (checkDigit(digits.slice(0, 14)) !== digits[14])
    throw new Error('The last digit does not match: a digit was mistyped.');
  return digits;
}

// The Luhn check digit of 14 digits, as a one-character string.
export function checkDigit(d14) {
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let v = d14.charCodeAt(i) - 48;
    if (i % 2 === 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return String((10 - (sum % 10)) % 10);
}
