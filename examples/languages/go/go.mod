module applink-language-go

go 1.19
