package sandbox

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"sync"
)

// Person is a made-up sandbox identity: the claims IDEMIA's VerifiedIdentity credential would carry.
type Person struct {
	ID          string
	FirstName   string
	LastName    string
	DateOfBirth string
	portrait    func() string
}

// Portrait is the person's generated JPEG, base64url encoded as the credential carries it (drawn on first use,
// so a binary that never runs the sandbox never draws it).
func (p Person) Portrait() string { return p.portrait() }

// Claims returns the person's credential claims.
func (p Person) Claims() map[string]any {
	return map[string]any{"firstName": p.FirstName, "lastName": p.LastName, "dateOfBirth": p.DateOfBirth, "portrait": p.Portrait()}
}

// People are the sandbox identities; none of them exists.
var People = []Person{
	newPerson("megan", "Megan", "Bowen", "1990-04-12", color.RGBA{0x2b, 0x6c, 0xb0, 0xff}, color.RGBA{0xf1, 0xc2, 0x7d, 0xff}),
	newPerson("alex", "Alex", "Wilber", "1985-09-30", color.RGBA{0x2f, 0x85, 0x5a, 0xff}, color.RGBA{0xc6, 0x86, 0x42, 0xff}),
	newPerson("adele", "Adele", "Vance", "1978-02-14", color.RGBA{0x9b, 0x2c, 0x2c, 0xff}, color.RGBA{0x8d, 0x55, 0x24, 0xff}),
}

// PersonByID returns the sandbox person with id, or the first one.
func PersonByID(id string) Person {
	for _, p := range People {
		if p.ID == id {
			return p
		}
	}
	return People[0]
}

func newPerson(id, first, last, dob string, background, skin color.RGBA) Person {
	return Person{ID: id, FirstName: first, LastName: last, DateOfBirth: dob,
		portrait: sync.OnceValue(func() string { return portrait(background, skin) })}
}

// portrait draws a 240×240 head-and-shoulders silhouette (Face Check wants at least 200×200).
func portrait(background, skin color.RGBA) string {
	const size = 240
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	shirt := color.RGBA{0x33, 0x33, 0x44, 0xff}
	for y := range size {
		for x := range size {
			c := background
			dx, dy := x-size/2, y-100
			switch {
			case dx*dx+dy*dy < 55*55: // head
				c = skin
			case y > 170 && dx*dx+(y-260)*(y-260) < 110*110: // shoulders
				c = shirt
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return base64.RawURLEncoding.EncodeToString(buf.Bytes())
}
