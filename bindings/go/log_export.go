package anytls

/*
#include <stdint.h>
*/
import "C"

import "runtime/cgo"

//export anytlsGoLog
func anytlsGoLog(level C.int, message *C.char, user C.uintptr_t) {
	fn, ok := cgo.Handle(user).Value().(LogFunc)
	if !ok || fn == nil {
		return
	}
	fn(LogLevel(level), C.GoString(message))
}
