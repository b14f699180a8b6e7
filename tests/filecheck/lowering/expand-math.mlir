// RUN: ember-opt %s -p expand-math | filecheck %s
// RUN: ember-opt %s -p 'expand-math{strict=true}' | filecheck %s --check-prefix=STRICT

// exp on f32: widen, clamp, n = roundeven(x*log2e), two-part ln2 reduction with fma,
// polynomial, 2^n rebuilt in two halves from integer bits, NaN passthrough, round once.
func.func @exp(%x: f32) -> f32 {
  %y = math.exp %x : f32
  func.return %y : f32
}

// CHECK-LABEL: func.func @exp
// CHECK-NOT:     math.exp
// CHECK:         %[[W:.*]] = arith.extf %x : f32 to f64
// CHECK:         arith.constant 8.900000e+01 : f64
// CHECK:         arith.constant -1.040000e+02 : f64
// CHECK:         %[[N:.*]] = math.roundeven %{{.*}} : f64
// CHECK:         math.fma
// CHECK:         %[[NI:.*]] = arith.fptosi %[[N]] : f64 to i64
// CHECK:         %[[HALF:.*]] = arith.shrsi %[[NI]], %{{.*}} : i64
// CHECK:         arith.shli
// CHECK:         arith.bitcast %{{.*}} : i64 to f64
// CHECK:         %[[NAN:.*]] = arith.cmpf uno, %[[W]], %[[W]] : f64
// CHECK-NEXT:    %[[R:.*]] = arith.select %[[NAN]], %[[W]], %{{.*}} : f64
// CHECK-NEXT:    %[[Y:.*]] = arith.truncf %[[R]] : f64 to f32
// CHECK-NEXT:    func.return %[[Y]] : f32

// f64 ops are not widened; log patches 0, inf and negative inputs with selects.
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

// sin/cos: three-part pi/2 reduction; NaN beyond the accurate domain, or, in strict mode,
// the original op selected there.
func.func @trig(%x: f32, %z: f64) -> (f32, f64) {
  %s = math.sin %x : f32
  %c = math.cos %z : f64
  func.return %s, %c : f32, f64
}

// CHECK-LABEL: func.func @trig
// CHECK-NOT:     math.sin
// CHECK:         arith.constant 1.5707963267948966 : f64
// CHECK:         arith.constant 6.123233995736766e-17 : f64
// CHECK:         arith.constant -1.4973849048591698e-33 : f64
// CHECK:         arith.constant 0x4310000000000000 : f64
// CHECK:         arith.truncf
// CHECK-NOT:     math.cos
// CHECK:         arith.constant {{0x42[eE]0000000000000}} : f64
// CHECK:         func.return

// STRICT-LABEL: func.func @trig
// STRICT:         %[[LIBM:.*]] = math.sin %{{.*}} : f64
// STRICT-NEXT:    %[[ABS:.*]] = math.absf
// STRICT-NEXT:    %[[BOUND:.*]] = arith.constant 0x4310000000000000 : f64
// STRICT-NEXT:    %[[BIG:.*]] = arith.cmpf ugt, %[[ABS]], %[[BOUND]] : f64
// STRICT-NEXT:    %[[SEL:.*]] = arith.select %[[BIG]], %[[LIBM]], %{{.*}} : f64
// STRICT-NEXT:    arith.truncf %[[SEL]] : f64 to f32
// STRICT:         math.cos %z : f64

// Other math ops and other types are left alone.
func.func @untouched(%x: f32) -> f32 {
  %y = math.sqrt %x : f32
  func.return %y : f32
}

// CHECK-LABEL: func.func @untouched
// CHECK-NEXT:    %y = math.sqrt %x : f32
// CHECK-NEXT:    func.return %y : f32
