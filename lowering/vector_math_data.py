"""Constants and polynomial coefficients for ``expand-math`` (``ember.lowering.vector_math``).

f64 kernels use the f64 tables; f32 kernels compute in f32 with the ``*_F32`` tables (the
emitter rounds every constant to f32). Sources:

* ``sin``/``cos``: fdlibm ``k_sin.c``/``k_cos.c`` (Sun Microsystems, 1993; also musl's
  ``__sin.c``/``__cos.c``), minimax on [-pi/4, pi/4]. The f32 tables drop the last term.
* ``log``: fdlibm ``e_log.c`` ``Lg1..Lg7`` for f64 (minimax for ``R(z)`` in
  ``log(1+f) = f - f^2/2 + s*(f^2/2 + R(z))``, ``s = f/(2+f)``, ``z = s^2``).
* f32 ``sin``: musl ``__sindf.c`` (minimax for 4 terms); f32 ``cos``: fdlibm's first 4 terms.
* ``exp``/``expm1`` ``Q``, the f32 ``tanh`` and ``log1p`` polynomials: fitted for ember by
  weighted least squares on Chebyshev nodes in mpmath, minimising the relative error; the fit
  script is in docs/vector-math.md. Relative fit errors: exp ``Q`` deg 10 2^-57, deg 5
  2^-28.4 (which becomes < 2^-31 in ``expm1``); tanh 2^-27.4 and log1p 2^-27 with the
  coefficients rounded to f32.
"""

import math

#: ln 2 split for Cody-Waite reduction: LN2_HI has 32 significant bits, so ``n * LN2_HI`` is
#: exact for |n| < 2^21 (fdlibm e_exp.c's ``ln2HI``/``ln2LO``).
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
LOG2E = 1.4426950408889634

#: pi/2 = PIO2_1 + PIO2_2 + PIO2_3 to ~160 bits (each the double nearest the remainder).
#: Reduced with one ``fma`` per part, which is exact while ``|k * PIO2_2| < 1``.
PIO2_1 = 1.5707963267948966
PIO2_2 = 6.123233995736766e-17
PIO2_3 = -1.4973849048591698e-33
TWO_OVER_PI = 0.6366197723675814

#: e^r - 1 = r + r^2 * Q(r) on |r| <= ln2/2; Q's coefficients, constant term first.
EXPM1_Q = {
    "f64": [0.5, 0.1666666666666667, 0.04166666666666661, 0.008333333333326167,
            0.0013888888888922634, 0.0001984126987472421, 2.480158723484882e-05,
            2.7557255507250965e-06, 2.755735997394213e-07, 2.5105177392475458e-08,
            2.0885930053864267e-09],
    "f32": [0.5000000013358249, 0.1666666649511063, 0.041666465642960775,
            0.00833337314351314, 0.001393359021881939, 0.00019849520139438812],
}

#: The same for f32 tanh, one degree shorter: relative error 2^-22.8 in Q.
EXPM1_Q_TANH_F32 = [0.5, 0.16666577756404877, 0.041666943579912186, 0.008363131433725357,
                    0.001389383221976459]
#: 1.5 * 2^23: adding it rounds an f32 of magnitude < 2^22 to an integer, kept in the low bits.
SHIFTER_F32 = 12582912.0

#: f64 log: fdlibm's Lg1..Lg7, R(z) = sum Lg_k z^k.
LOG_LG = [6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
          2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
          1.479819860511658591e-01]
#: f32 log: log(1+f) = f + f^2*(-1/2 + f*P(f)) on [sqrt(1/2)-1, sqrt(2)-1]: no division.
LOG1P_P_F32 = [0.3333335518836975, -0.2500085234642029, 0.19999825954437256,
               -0.1662134826183319, 0.14227087795734406, -0.13202300667762756,
               0.12620672583580017, -0.07362811267375946]

#: sin r = r + r^3 * S(r^2); fdlibm S1..S6.
SIN_S = [-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
         2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10]
#: cos r = 1 - r^2/2 + r^4 * C(r^2); fdlibm C1..C6.
COS_C = [4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
         -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11]

#: f32 sin r = r + r^3 * S(r^2) (musl __sindf.c S1..S4); cos uses COS_C[:4].
SIN_S_F32 = [-0.166666666416265235595, 0.0083333293858894631756, -0.000198393348360966317347,
             0.0000027183114939898219064]
COS_TERMS_F32 = 4

#: f32 ln 2 = LN2_HI_F32 + LN2_LO_F32; LN2_HI_F32 is float32(ln 2). With fma, the first
#: reduction step x - n*LN2_HI_F32 is exact for every |x| the f32 kernels reduce.
LN2_HI_F32 = 0.6931471824645996
LN2_LO_F32 = -1.9046542121259336e-09

#: f32 tanh: x + x^3 * P(x^2) below TANH_SMALL_F32, expm1 form above; |x| clamped to
#: TANH_CLAMP_F32 (tanh rounds to +-1 beyond 9.02).
TANH_SMALL_F32 = 0.45
TANH_P_F32 = [-0.33333244919776917, 0.1332911252975464, -0.053332556039094925,
              0.01799703575670719]
TANH_CLAMP_F32 = 10.0

#: exp's input clamp: below LO the result is +0, above HI it is +inf (in the *result* type),
#: and inside the range the scale 2^n never leaves f64's normal range.
EXP_RANGE = {"f64": (-746.0, 710.0), "f32": (-104.0, 89.0)}

#: f64 tanh(x) rounds to +-1 beyond |x| >= 19.1; clamping there keeps e^(2x) finite.
TANH_CLAMP = 40.0

#: sin/cos domain: for |x| <= bound the reduction is accurate (k = round(x * 2/pi) is within
#: about 1/16 of the nearest integer and ``k * PIO2_2`` stays below 1). Beyond it the result
#: is NaN (``strict=True`` selects the libm result there instead). Measured errors in each
#: binade up to the bound and beyond it: docs/vector-math.md.
TRIG_BOUND = {"f32": math.ldexp(1.0, 50), "f64": math.ldexp(1.0, 47)}

#: musl log.c/logf.c: bits of the float nearest sqrt(1/2); ``bits(x) - LOG_OFF`` has the
#: exponent k with x = 2^k * m, m in [sqrt(1/2), sqrt(2)).
LOG_OFF = {"f64": 0x3FE6A09E667F3BCD, "f32": 0x3F3504F3}

#: pow with a constant integer exponent |n| <= POW_INT_MAX is expanded into products.
POW_INT_MAX = 4

#: pow's log (double-double for f64, one double for f32): x = 2^k * m with m in
#: [sqrt(1/2), sqrt(2)) (``LOG_OFF``), s = (m - 1) / (m + 1) with |s| <= 0.1716, and
#: log m = 2s + (2/3)s^3 + s^5 * P(s^2). P fitted for ember (script in docs/vector-math.md):
#: relative error 2^-53.8 (f64, deg 7) and 2^-28.6 (f32's, deg 3: P's share of log x is at
#: most 2^-12.5, and f32 pow needs log x to about 2^-37).
#: erf: fdlibm's s_erf.c (Sun Microsystems, 1993; musl's erf.c), its four regions of |x|
#: (bounds ERF_BOUNDS, then 1 from 6 on), each a rational approximation: on [0, 0.84375)
#: erf = x + x * P(x^2)/Q(x^2); on [0.84375, 1.25) erf = ERX + P(s)/Q(s) with s = |x| - 1;
#: on [1.25, 1/0.35) and [1/0.35, 6) erfc = exp(-x^2 - 0.5625 + P(1/x^2)/Q(1/x^2)) / |x|.
#: Numerators are padded to 8 coefficients and denominators to 9 (constant term first), so
#: one rational with coefficients selected per lane serves every region.
ERF_BOUNDS = (0.84375, 1.25, 1 / 0.35, 6.0)
ERX = 8.45062911510467529297e-01
ERF_P = [
    [1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
     -5.77027029648944159157e-03, -2.37630166566501626084e-05, 0.0, 0.0, 0.0],
    [-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
     3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
     -2.16637559486879084300e-03, 0.0],
    [-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
     -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
     -8.12874355063065934246e+01, -9.81432934416914548592e+00],
    [-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
     -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
     -4.83519191608651397019e+02, 0.0],
]
ERF_Q = [
    [1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
     1.32494738004321644526e-04, -3.96022827877536812320e-06, 0.0, 0.0, 0.0],
    [1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
     1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02,
     0.0, 0.0],
    [1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
     6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
     6.57024977031928170135e+00, -6.04244152148580987438e-02],
    [1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
     3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
     -2.24409524465858183362e+01, 0.0],
]

#: atan: fdlibm's s_atan.c (musl's atan.c): |x| reduced by the bounds ATAN_BOUNDS to
#: t = x, (2x - 1)/(2 + x), (x - 1)/(x + 1), (x - 1.5)/(1 + 1.5x) or -1/x, added to atan(0),
#: atan(1/2), atan(1), atan(3/2) or pi/2 (double-double: ATAN_HI + ATAN_LO); atan t =
#: t - t*z*A(z), z = t^2, with fdlibm's aT on |t| <= 7/16.
ATAN_BOUNDS = (7 / 16, 11 / 16, 19 / 16, 39 / 16)
ATAN_HI = [0.0, 4.63647609000806093515e-01, 7.85398163397448278999e-01,
           9.82793723247329054082e-01, 1.57079632679489655800e+00]
ATAN_LO = [0.0, 2.26987774529616870924e-17, 3.06161699786838301793e-17,
           1.39033110312309984516e-17, 6.12323399573676603587e-17]
ATAN_A = [3.33333333333329318027e-01, -1.99999999998764832476e-01, 1.42857142725034663711e-01,
          -1.11111104054623557880e-01, 9.09088713343650656196e-02, -7.69187620504482999495e-02,
          6.66107313738753120669e-02, -5.83357013379057348645e-02, 4.97687799461593236017e-02,
          -3.65315727442169155270e-02, 1.62858201153657823623e-02]
#: pi as a double-double (pi - atan(q) for atan2 with x < 0)
PI_DD = (3.14159265358979311600e+00, 1.2246467991473532e-16)
#: f32 atan in f32: fdlibm's s_atanf.c (musl's atanf.c): the same reduction, 5 terms
ATAN_HI_F32 = [0.0, 4.6364760399e-01, 7.8539812565e-01, 9.8279368877e-01, 1.5707962513e+00]
ATAN_LO_F32 = [0.0, 5.0121582440e-09, 3.7748947079e-08, 3.4473217170e-08, 7.5497894159e-08]
ATAN_A_F32 = [3.3333328366e-01, -1.9999158382e-01, 1.4253635705e-01, -1.0648017377e-01,
              6.1687607318e-02]
PI_F32 = (3.1415925026e+00, 1.5099578832e-07)

#: tan: f32 computes in f64, so both use f64's reduction and its bound
TAN_BOUND = {"f32": TRIG_BOUND["f64"], "f64": TRIG_BOUND["f64"]}
#: sinh: below this |x|, (t + t/(t + 1))/2 with t = expm1|x|; from it on e^|x|/2
SINH_EXPM1_BELOW = 22.0

#: f32 exp2 in f32: 2^r = 1 + r*P(r) on |r| <= 1/2, fitted for ember (the script in
#: docs/vector-math.md), relative error 2^-27.7 in (2^r - 1)/r with the coefficients in f32
EXP2_P_F32 = [0.6931471824645996, 0.24022650718688965, 0.05550410598516464,
              0.009618056938052177, 0.0013333692913874984, 0.00015461313887499273,
              1.5246357179421466e-05]
#: f32 log2 in f32: log2(e) = LOG2E_F32 + LOG2E_F32_LO
LOG2E_F32 = 1.4426950216293335
LOG2E_F32_LO = 1.925963033500011e-08

#: double-double constants (the double nearest, and the double nearest the rest) for the
#: f64 log2, log10 and exp2 built on the double-double log and exp
LOG2E_DD = (1.4426950408889634, 2.0355273740931033e-17)
LOG10E_DD = (0.4342944819032518, 1.098319650216765e-17)
LN2_DD = (0.6931471805599453, 2.3190468138462996e-17)
#: expm1: below EXPM1_LO the result is -1 in f64 (and f32); above EXPM1_HI it is +inf in f64
EXPM1_LO = -45.0
EXPM1_HI = 709.782712893384
#: the same for f32 expm1 (computed in f32): -1 below, +inf above
EXPM1_RANGE_F32 = (-18.0, 88.72284)
TWO_THIRDS_HI = 0.6666666666666666
TWO_THIRDS_LO = 3.700743415417188e-17
POW_LOG_P = {
    "f64": [0.4, 0.28571428571429364, 0.22222222221657162, 0.18181818335132346,
            0.15384594987830605, 0.13334803431389286, 0.11706267556248047, 0.11722875423517103],
    "f32": [0.3999999990533038, 0.28571531577604165, 0.22204784322993623, 0.19119950451189202],
}
