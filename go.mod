module dirtygate

go 1.24
