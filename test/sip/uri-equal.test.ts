// RFC 3261 §19.1.4, Equivalence of SIP and SIPS URIs: the section's own pairs, then the rules one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameUri } from '../../src/sip/index.js';

const equal = (a: string, b: string) => {
  assert.equal(sameUri(a, b), true, `${a} = ${b}`);
  assert.equal(sameUri(b, a), true, `${b} = ${a}`);
};
const differ = (a: string, b: string) => {
  assert.equal(sameUri(a, b), false, `${a} ≠ ${b}`);
  assert.equal(sameUri(b, a), false, `${b} ≠ ${a}`);
};

test('§19.1.4: the URIs the section gives as equivalent', () => {
  equal('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp');
  equal('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5');
  equal('sip:carol@chicago.com', 'sip:carol@chicago.com;security=on');
  equal('sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on');
  equal(
    'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
    'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
  );
  equal(
    'sip:alice@atlanta.com?subject=project%20x&priority=urgent',
    'sip:alice@atlanta.com?priority=urgent&subject=project%20x',
  );
});

test('§19.1.4: the URIs the section gives as not equivalent', () => {
  differ('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP');
  differ('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060');
  differ('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp');
  differ('sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp');
  differ('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting');
  differ('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4');
});

test('§19.1.4: scheme, userinfo, user/ttl/method/maddr parameters, headers, escapes', () => {
  differ('sip:alice@atlanta.com', 'sips:alice@atlanta.com');
  differ('sip:atlanta.com', 'sip:alice@atlanta.com');
  differ('sip:alice@atlanta.com', 'sip:alice:secret@atlanta.com');
  differ('sip:alice:secret@atlanta.com', 'sip:alice:Secret@atlanta.com');
  differ('sip:+15551234@atlanta.com', 'sip:+15551234@atlanta.com;user=phone');
  differ('sip:alice@atlanta.com', 'sip:alice@atlanta.com;ttl=1');
  differ('sip:alice@atlanta.com', 'sip:alice@atlanta.com;method=INVITE');
  differ('sip:alice@atlanta.com', 'sip:alice@atlanta.com;maddr=239.255.255.1');
  differ('sip:alice@atlanta.com;transport=tcp', 'sip:alice@atlanta.com;transport=udp');
  differ('sip:alice@atlanta.com?a=1', 'sip:alice@atlanta.com?a=2');
  differ('sip:alice@atlanta.com?a=1&b=2', 'sip:alice@atlanta.com?a=1');
  equal('sip:alice@[2001:DB8::1]:5070;LR', 'sip:alice@[2001:db8::1]:5070;lr');
  equal('sip:alice@atlanta.com;maddr=239.255.255.1', 'sip:alice@atlanta.com;MADDR=239.255.255.1');
  // Escapes: an unreserved character and its escape are one; a reserved one escaped is not the character.
  equal('sip:al%69ce@atlanta.com;x=%61b', 'sip:alice@atlanta.com;x=ab');
  equal('sip:a%3bb@atlanta.com', 'sip:a%3Bb@atlanta.com');
  differ('sip:a%3Bb@atlanta.com', 'sip:a;b@atlanta.com');
});

test('other schemes and text that does not parse: the same text only', () => {
  equal('tel:+15551234', 'tel:+15551234');
  differ('tel:+15551234', 'tel:+1-555-1234');
  differ('sip:alice@', 'sip:alice@x');
  assert.equal(sameUri('sip:alice@', 'sip:alice@'), true, 'the very same text is the same');
});
