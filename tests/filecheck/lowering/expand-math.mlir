// RUN: ember-opt %s -p expand-math | filecheck %s
// RUN: ember-opt %s -p 'expand-math{strict=true}' | filecheck %s --check-prefix=STRICT
// RUN: ember-opt %s -p 'expand-math{ldexp=true}' | filecheck %s --check-prefix=LDEXP

// exp on f32 computes in f32: clamp, n = roundeven(x*log2e), two-part ln2 reduction with
// fma, polynomial, 2^n rebuilt in two halves from i32 bits, NaN passthrough. No widening.
func.func @exp(%x: f32) -> f32 {
  %y = math.exp %x : f32
  func.return %y : f32
}

// CHECK-LABEL: func.func @exp
// CHECK-NOT:     math.exp
// CHECK-NOT:     arith.extf
// CHECK:         arith.constant 8.900000e+01 : f32
// CHECK:         arith.constant -1.040000e+02 : f32
// CHECK:         %[[N:.*]] = math.roundeven %{{.*}} : f32
// CHECK:         math.fma %{{.*}} : f32
// CHECK:         %[[NI:.*]] = arith.fptosi %[[N]] : f32 to i32
// CHECK:         %[[HALF:.*]] = arith.shrsi %[[NI]], %{{.*}} : i32
// CHECK:         arith.constant 23 : i32
// CHECK:         arith.bitcast %{{.*}} : i32 to f32
// CHECK:         %[[NAN:.*]] = arith.cmpf uno, %x, %x : f32
// CHECK-NEXT:    %[[R:.*]] = arith.select %[[NAN]], %x, %{{.*}} : f32
// CHECK-NEXT:    func.return %[[R]] : f32

// With ldexp (the pipeline's choice on AVX-512 hosts), exp's 2^n scaling is one
// llvm.ldexp of 1 + p (a single vscalefps), not two halves built from bits.
// LDEXP-LABEL: func.func @exp
// LDEXP:         %[[NI:.*]] = arith.fptosi %{{.*}} : f32 to i32
// LDEXP-NOT:     arith.shrsi
// LDEXP:         %[[ONE:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// LDEXP-NEXT:    %[[S:.*]] = llvmx.intrinsic "llvm.ldexp.f32.i32"(%[[ONE]], %[[NI]]) : (f32, i32) -> f32
// LDEXP-NEXT:    %[[NAN:.*]] = arith.cmpf uno, %x, %x : f32
// LDEXP-NEXT:    %{{.*}} = arith.select %[[NAN]], %x, %[[S]] : f32

// tanh on f32 is f32 arithmetic only (n = round(2|x|/ln2) by adding 1.5*2^23, whose low
// bits shift into 2^n's exponent): the expm1 form t/(t+2) and the odd polynomial for
// |x| < 0.45, both computed, one selected (the polynomial for NaN, which it propagates);
// copysign keeps tanh(-0) = -0.
func.func @tanh_f32(%x: f32) -> f32 {
  %y = math.tanh %x : f32
  func.return %y : f32
}

// CHECK-LABEL: func.func @tanh_f32
// CHECK-NOT:     math.tanh
// CHECK-NOT:     f64
// CHECK:         %[[A:.*]] = math.absf %x : f32
// CHECK:         %[[SHIFTER:.*]] = arith.constant 0x4B400000 : f32
// CHECK:         %[[S:.*]] = math.fma %{{.*}}, %{{.*}}, %[[SHIFTER]] : f32
// CHECK:         %[[SBITS:.*]] = arith.bitcast %[[S]] : f32 to i32
// CHECK:         %[[BIG:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:         %[[SMALL:.*]] = math.fma %{{.*}}, %{{.*}}, %[[A]] : f32
// CHECK-NEXT:    %[[BOUND:.*]] = arith.constant 4.500000e-01 : f32
// CHECK-NEXT:    %[[LT:.*]] = arith.cmpf ult, %[[A]], %[[BOUND]] : f32
// CHECK-NEXT:    %[[Y:.*]] = arith.select %[[LT]], %[[SMALL]], %[[BIG]] : f32
// CHECK-NEXT:    %[[R:.*]] = math.copysign %[[Y]], %x : f32
// CHECK-NEXT:    func.return %[[R]] : f32

// f64 ops stay f64; log patches 0, inf and negative inputs with selects.
func.func @log(%x: f64) -> f64 {
  %y = math.log %x : f64
  func.return %y : f64
}

// CHECK-LABEL: func.func @log
// CHECK-NOT:     arith.extf
// CHECK:         arith.bitcast %{{.*}} : f64 to i64
// CHECK:         arith.divf
// CHECK:         arith.cmpf oeq, %x, %{{.*}} : f64
// CHECK:         arith.constant 0xfff0000000000000 : f64
// CHECK:         arith.cmpf ult, %x, %{{.*}} : f64
// CHECK-NEXT:    arith.constant 0x7ff8000000000000 : f64
// CHECK-NEXT:    %[[Y:.*]] = arith.select
// CHECK-NEXT:    func.return %[[Y]] : f64

// f32 log needs no division: f + f^2*(-1/2 + f*P(f)).
func.func @log_f32(%x: f32) -> f32 {
  %y = math.log %x : f32
  func.return %y : f32
}

// CHECK-LABEL: func.func @log_f32
// CHECK-NOT:     f64
// CHECK-NOT:     arith.divf
// CHECK:         arith.bitcast %{{.*}} : f32 to i32
// CHECK:         arith.constant 1060439283 : i32
// CHECK:         func.return

// tanh keeps the sign of its input (tanh(-0) = -0) with copysign.
func.func @tanh(%x: f64) -> f64 {
  %y = math.tanh %x : f64
  func.return %y : f64
}

// CHECK-LABEL: func.func @tanh
// CHECK-NOT:     math.tanh
// CHECK:         math.absf %x : f64
// CHECK:         arith.divf
// CHECK:         math.copysign %{{.*}}, %x : f64

// sin/cos: f64 reduces with three parts of pi/2; f32 reduces in f64 with two, then
// evaluates its polynomials in f32. NaN beyond the accurate domain, or, in strict mode, the
// original op selected there.
func.func @trig(%x: f32, %z: f64) -> (f32, f64) {
  %s = math.sin %x : f32
  %c = math.cos %z : f64
  func.return %s, %c : f32, f64
}

// CHECK-LABEL: func.func @trig
// CHECK-NOT:     math.sin
// CHECK:         arith.extf %x : f32 to f64
// CHECK:         arith.constant 1.5707963267948966 : f64
// CHECK:         arith.constant 6.123233995736766e-17 : f64
// CHECK-NOT:     -1.4973849048591698e-33
// CHECK:         arith.truncf %{{.*}} : f64 to f32
// CHECK:         math.fma %{{.*}} : f32
// CHECK:         arith.constant 1.12589991e+15 : f32
// CHECK-NOT:     math.cos
// CHECK:         arith.constant -1.4973849048591698e-33 : f64
// CHECK:         arith.constant {{0x42[eE]0000000000000}} : f64
// CHECK:         func.return

// STRICT-LABEL: func.func @trig
// STRICT:         %[[LIBM:.*]] = math.sin %x : f32
// STRICT-NEXT:    %[[ABS:.*]] = math.absf %x : f32
// STRICT-NEXT:    %[[BOUND:.*]] = arith.constant 1.12589991e+15 : f32
// STRICT-NEXT:    %[[BIG:.*]] = arith.cmpf ugt, %[[ABS]], %[[BOUND]] : f32
// STRICT-NEXT:    %[[SEL:.*]] = arith.select %[[BIG]], %[[LIBM]], %{{.*}} : f32
// STRICT:         math.cos %z : f64

// powf: a small constant integer exponent becomes products (f32: in f64, rounded once);
// a general pow is exp(y*log|x|) plus selects for C99's special cases: f32 in f64, f64
// with log|x| and the product in double-double (m + 1 split exactly, the quotient
// (m - 1)/(m + 1) corrected by its remainder).
func.func @pow(%x: f32, %y: f32, %w: f64) -> (f32, f32, f64) {
  %three = arith.constant 3 : i64
  %t = arith.sitofp %three : i64 to f32
  %c = math.powf %x, %t : f32
  %g = math.powf %x, %y : f32
  %h = math.powf %w, %w : f64
  func.return %c, %g, %h : f32, f32, f64
}

// CHECK-LABEL: func.func @pow
// CHECK:         %[[XW:.*]] = arith.extf %x : f32 to f64
// CHECK-NEXT:    %[[X2:.*]] = arith.mulf %[[XW]], %[[XW]] : f64
// CHECK-NEXT:    %[[X3:.*]] = arith.mulf %[[X2]], %[[XW]] : f64
// CHECK-NEXT:    %[[C:.*]] = arith.truncf %[[X3]] : f64 to f32
// CHECK:         arith.extf %y : f32 to f64
// CHECK:         math.floor %y : f32
// CHECK:         %[[A:.*]] = math.absf %w : f64
// CHECK:         %[[M:.*]] = arith.bitcast %{{.*}} : i64 to f64
// CHECK:         %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %[[F:.*]] = arith.subf %[[M]], %[[ONE]] : f64
// CHECK-NEXT:    %[[D:.*]] = arith.addf %[[M]], %[[ONE]] : f64
// CHECK-NEXT:    %[[D1:.*]] = arith.subf %[[D]], %[[ONE]] : f64
// CHECK-NEXT:    %[[DLO:.*]] = arith.subf %[[M]], %[[D1]] : f64
// CHECK-NEXT:    %[[INV:.*]] = arith.divf %[[ONE]], %[[D]] : f64
// CHECK-NEXT:    %[[Q:.*]] = arith.mulf %[[F]], %[[INV]] : f64
// CHECK-NEXT:    %[[NQ:.*]] = arith.negf %[[Q]] : f64
// CHECK-NEXT:    %[[R1:.*]] = math.fma %[[NQ]], %[[D]], %[[F]] : f64
// CHECK-NEXT:    %[[R2:.*]] = math.fma %[[NQ]], %[[DLO]], %[[R1]] : f64
// CHECK-NEXT:    %{{.*}} = arith.mulf %[[R2]], %[[INV]] : f64
// CHECK-NOT:     math.powf
// CHECK:         math.floor %w : f64
// CHECK:         func.return %[[C]], %{{.*}}, %{{.*}} : f32, f32, f64

// Other math ops and other types are left alone.
func.func @untouched(%x: f32) -> f32 {
  %y = math.sqrt %x : f32
  func.return %y : f32
}

// CHECK-LABEL: func.func @untouched
// CHECK-NEXT:    %y = math.sqrt %x : f32
// CHECK-NEXT:    func.return %y : f32

// log2, log10, exp2, expm1 and log1p are built on the same kernels (f32 widened to f64 and
// rounded once, except log2, exp2, expm1 and log1p, which stay in f32): log2 and log10 multiply the
// double-double log by 1/ln(base) in double-double (f32 log2: k + log(1 + f)*log2(e) with
// the product's error); exp2 adds the low half of x*ln2 to exp's reduced argument; expm1
// is fma(2^n, p, 2^n - 1); log1p adds what rounding 1 + x lost to the log's low half.
func.func @more(%x: f32, %y: f64) -> (f32, f64, f64, f32, f64) {
  %a = math.log2 %x : f32
  %b = math.log10 %y : f64
  %c = math.exp2 %y : f64
  %d = math.expm1 %x : f32
  %e = math.log1p %y : f64
  func.return %a, %b, %c, %d, %e : f32, f64, f64, f32, f64
}

// CHECK-LABEL: func.func @more
// CHECK-NOT:     math.log2
// CHECK-NOT:     arith.extf
// CHECK:         arith.constant 1.44269502 : f32
// CHECK:         arith.constant 0.43429448190325182 : f64
// CHECK:         arith.constant 1.0983196502167651e-17 : f64
// CHECK-NOT:     math.log10
// CHECK:         arith.constant 0.69314718055994529 : f64
// CHECK:         math.roundeven
// CHECK-NOT:     math.exp2
// CHECK:         %[[E:.*]] = arith.constant 1.44269502 : f32
// CHECK:         math.fma
// CHECK-NOT:     math.expm1
// CHECK:         arith.addf %{{.*}}, %y : f64
// CHECK-NOT:     math.log1p
// CHECK:         func.return

// erf: one rational whose variable and coefficients the region of |x| selects per lane,
// then one exp for |x| >= 1.25; f32 through f64.
func.func @erf(%x: f64) -> f64 {
  %y = math.erf %x : f64
  func.return %y : f64
}

// CHECK-LABEL: func.func @erf
// CHECK:         %[[A:.*]] = math.absf %x : f64
// CHECK-NEXT:    %[[B:.*]] = arith.constant 8.437500e-01 : f64
// CHECK-NEXT:    arith.cmpf olt, %[[A]], %[[B]] : f64
// CHECK:         arith.divf
// CHECK:         arith.constant 0.12837916709551256 : f64
// CHECK:         math.roundeven
// CHECK:         math.copysign %{{.*}}, %x : f64
// CHECK-NOT:     math.erf
// CHECK:         func.return

// atan2 (f32, in f32), tan and cosh: one division for atan's reduced argument, the
// quadrant's select for tan, exp of |x| - ln2 for cosh. No libm op is left.
func.func @trig_more(%y: f32, %x: f32, %z: f64) -> (f32, f64, f64) {
  %a = math.atan2 %y, %x : f32
  %t = math.tan %z : f64
  %c = math.cosh %z : f64
  func.return %a, %t, %c : f32, f64, f64
}

// CHECK-LABEL: func.func @trig_more
// CHECK:         %[[AY:.*]] = math.absf %y : f32
// CHECK-NEXT:    %[[AX:.*]] = math.absf %x : f32
// CHECK-NEXT:    arith.divf %[[AY]], %[[AX]] : f32
// CHECK-NEXT:    arith.constant 4.375000e-01 : f32
// CHECK:         math.copysign %{{.*}}, %y : f32
// CHECK:         arith.constant 0.63661977236758138 : f64
// CHECK:         arith.divf
// CHECK:         arith.constant -0.69314718055994529 : f64
// CHECK:         math.roundeven
// CHECK-NOT:     math.atan2
// CHECK-NOT:     math.tan
// CHECK-NOT:     math.cosh
// CHECK:         func.return
