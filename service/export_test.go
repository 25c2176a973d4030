package service

// loopClock makes a loop sleep on c.
func loopClock(c clock) LoopOption { return func(o *loopOptions) { o.clock = c } }
